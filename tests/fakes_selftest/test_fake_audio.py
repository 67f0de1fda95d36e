import io

import numpy as np
import soundfile as sf

from tests.fakes.audio import duration_seconds, is_ogg_vorbis, ogg_tone, pcm_tone


def test_ogg_tone_is_real_ogg_vorbis_of_requested_length() -> None:
    data = ogg_tone(0.5)
    assert data[:4] == b"OggS"
    assert is_ogg_vorbis(data)
    assert abs(duration_seconds(data) - 0.5) < 0.01
    info = sf.info(io.BytesIO(data))
    assert (info.samplerate, info.channels) == (22050, 1)


def test_ogg_tone_is_cached_per_duration() -> None:
    assert ogg_tone(0.3) is ogg_tone(0.3)


def test_is_ogg_vorbis_rejects_other_bytes() -> None:
    wav = io.BytesIO()
    sf.write(wav, np.zeros(100, dtype=np.float32), 22050, format="WAV")
    data = ogg_tone(1.0)
    assert not is_ogg_vorbis(b"")
    assert not is_ogg_vorbis(b"\x00" * 8)  # what moto's Polly returns
    assert not is_ogg_vorbis(wav.getvalue())
    assert not is_ogg_vorbis(data[: len(data) // 2])  # truncated stream


def test_pcm_tone_is_16_bit_samples() -> None:
    assert len(pcm_tone(0.1, 16000)) == 1600 * 2
