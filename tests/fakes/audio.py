"""Real audio bytes for tests: OGG Vorbis tones and format checks (via soundfile)."""

from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
import soundfile as sf

TONE_HZ = 440.0


@lru_cache(maxsize=256)
def _ogg_tone_cached(milliseconds: int, sample_rate: int) -> bytes:
    frames = max(1, round(sample_rate * milliseconds / 1000))
    t = np.arange(frames, dtype=np.float32) / sample_rate
    # Quiet (0.2) so a test that plays it by accident is not painful.
    samples = (0.2 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, samples, sample_rate, format="OGG", subtype="VORBIS")
    return buf.getvalue()


def ogg_tone(seconds: float, sample_rate: int = 22050) -> bytes:
    """OGG Vorbis bytes of a mono 440 Hz sine lasting ``seconds`` (cached per ms)."""
    return _ogg_tone_cached(max(1, round(seconds * 1000)), sample_rate)


@lru_cache(maxsize=256)
def _pcm_tone_cached(milliseconds: int, sample_rate: int) -> bytes:
    frames = max(1, round(sample_rate * milliseconds / 1000))
    t = np.arange(frames, dtype=np.float64) / sample_rate
    return (0.2 * 32767 * np.sin(2 * np.pi * TONE_HZ * t)).astype("<i2").tobytes()


def pcm_tone(seconds: float, sample_rate: int = 16000) -> bytes:
    """Raw signed 16-bit little-endian mono PCM, as Polly's ``pcm`` output format."""
    return _pcm_tone_cached(max(1, round(seconds * 1000)), sample_rate)


def audio_info(data: bytes) -> sf._SoundFileInfo | None:
    """soundfile's info for encoded audio bytes, or None if it cannot be decoded."""
    try:
        return sf.info(io.BytesIO(data))
    except (sf.LibsndfileError, RuntimeError, TypeError):
        return None


def is_ogg_vorbis(data: bytes) -> bool:
    """True if ``data`` decodes as OGG Vorbis (container OGG, codec VORBIS)."""
    info = audio_info(data)
    if info is None or info.format != "OGG" or info.subtype != "VORBIS":
        return False
    try:
        # info() reads headers only; decode the samples too so truncated files fail.
        samples, _ = sf.read(io.BytesIO(data), dtype="float32")
    except (sf.LibsndfileError, RuntimeError):
        return False
    return len(samples) > 0


def duration_seconds(data: bytes) -> float:
    """Duration of encoded audio bytes (raises ValueError if undecodable)."""
    info = audio_info(data)
    if info is None:
        raise ValueError("not decodable audio")
    return float(info.frames) / float(info.samplerate)


# espeak pads each phrase with ~0.2 s of silence; sox's effect chain trims both ends.
_TRIM_SILENCE = ["silence", "1", "0.01", "0.3%", "reverse"] * 2


def espeak_pcm16(
    text: str, voice: str = "ko", rate: int = 16000, *, trim: bool = False
) -> np.ndarray:
    """``text`` spoken by espeak-ng, as mono little-endian PCM16 samples at ``rate`` (needs
    espeak-ng and sox); ``trim``: without espeak's leading and trailing silence."""
    import subprocess

    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", "150", "--stdout", text], capture_output=True, check=True
    ).stdout
    to_raw = ["sox", "-t", "wav", "-", "-t", "raw", "-r", str(rate), "-c", "1", "-b", "16"]
    to_raw += ["-e", "signed-integer", "-", *(_TRIM_SILENCE if trim else [])]
    raw = subprocess.run(to_raw, input=wav, capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype="<i2")
