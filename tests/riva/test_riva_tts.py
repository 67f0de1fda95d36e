"""Riva TTS behind the Synthesizer port, chosen by the chat Lambda's configuration."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
import soundfile
from riva_fake_server import RivaServer

from voicebot import wiring
from voicebot.adapters.riva_tts import RivaStreamingSynthesizer, RivaSynthesizer
from voicebot.errors import ApiError, ServiceUnavailable

pytestmark = pytest.mark.timeout(20)


@pytest.fixture
def riva_tts_variables(riva: RivaServer) -> dict[str, str]:
    return {
        "TTS_PROVIDER": "riva",
        "RIVA_TTS_URL": riva.url,
        "RIVA_TTS_API_KEY": "nvapi-tts",
        "RIVA_TTS_FUNCTION_ID": "fn-tts",
        "RIVA_TTS_VOICE": "Magpie-Multilingual.EN-US.Aria",
        "RIVA_TTS_LANGUAGE": "en-US",
        "RIVA_TTS_SAMPLE_RATE": "24000",
    }


@pytest.fixture
def riva_tts_env(riva: RivaServer, riva_tts_variables: dict[str, str]) -> Iterator[RivaServer]:
    wiring.configure(riva_tts_variables)
    yield riva
    wiring.configure(None)


async def test_tts_provider_riva_speaks_through_riva_and_returns_ogg_vorbis(
    riva_tts_env: RivaServer,
) -> None:
    synthesizer = wiring.synthesizer()
    assert isinstance(synthesizer, RivaStreamingSynthesizer)  # RIVA_TTS_STREAM's default

    ogg = await synthesizer.synthesize("Hello there.", "Seoyeon", "ko-KR")

    info = soundfile.info(io.BytesIO(ogg))
    assert (info.format, info.subtype, info.channels) == ("OGG", "VORBIS", 1)
    assert info.samplerate == 24000
    assert info.duration == pytest.approx(0.05 * len("Hello there."), abs=0.02)
    samples, _ = soundfile.read(io.BytesIO(ogg), dtype="float32")
    assert 0.15 < float(abs(samples).max()) < 0.35  # the server's 8000/32768 tone survived
    (request,) = riva_tts_env.servicer.tts_requests
    assert request.text == "Hello there."
    assert request.voice_name == "Magpie-Multilingual.EN-US.Aria"
    assert request.language_code == "en-US"  # the Riva language, not the turn's ko-KR
    assert (request.sample_rate_hz, request.encoding) == (24000, 1)  # LINEAR_PCM
    metadata = riva_tts_env.servicer.tts_metadata[0]
    assert metadata["authorization"] == "Bearer nvapi-tts"
    assert metadata["function-id"] == "fn-tts"


async def test_a_language_riva_cannot_speak_is_a_clear_bad_request(
    riva_tts_env: RivaServer, riva_tts_variables: dict[str, str]
) -> None:
    del riva_tts_variables["RIVA_TTS_LANGUAGE"]
    del riva_tts_variables["RIVA_TTS_VOICE"]
    wiring.configure(riva_tts_variables)

    with pytest.raises(ApiError) as refused:
        await wiring.synthesizer().synthesize("안녕하세요.", "Seoyeon", "ko-KR")
    assert refused.value.status == 400
    assert "ko-KR" in refused.value.message


async def test_an_unreachable_riva_server_is_service_unavailable(
    riva: RivaServer,
) -> None:
    url = riva.url
    riva.stop()
    synthesizer = RivaSynthesizer(url=url, language="en-US")
    with pytest.raises(ServiceUnavailable):
        await synthesizer.synthesize("Hello.", "Seoyeon", "en-US")


async def test_a_streamed_sentence_comes_in_growing_whole_ogg_pieces(riva: RivaServer) -> None:
    riva.servicer.tts_real_time_factor = 0.2  # 100 ms chunks, each 20 ms apart
    synthesizer = RivaStreamingSynthesizer(url=riva.url, language="en-US", sample_rate_hz=24000)
    text = "A sentence of forty characters, spoken."  # 2.0 s of audio
    pieces = [ogg async for ogg in synthesizer.synthesize_pieces(text, "Seoyeon", "en-US")]

    infos = [soundfile.info(io.BytesIO(ogg)) for ogg in pieces]
    assert {(i.format, i.subtype, i.samplerate) for i in infos} == {("OGG", "VORBIS", 24000)}
    # 0.1 s, then twice the one before, and the rest: one Vorbis header per piece, not per chunk.
    assert [round(i.duration, 2) for i in infos] == [0.1, 0.2, 0.4, 0.8, 0.45]
    assert await synthesizer.synthesize(text, "Seoyeon", "en-US")  # /api/speech: one file


async def test_closing_a_stream_early_cancels_riva_s_call(riva: RivaServer) -> None:
    riva.servicer.tts_real_time_factor = 1.0  # 2 s of audio would take 2 s
    synthesizer = RivaStreamingSynthesizer(url=riva.url, language="en-US")
    stream = synthesizer.synthesize_pieces("A sentence of forty characters, spoken.", "", "")
    first = await anext(stream)
    await stream.aclose()  # the turn was cancelled

    assert soundfile.info(io.BytesIO(first)).duration == pytest.approx(0.1, abs=0.01)
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


async def test_a_stream_riva_refuses_raises_before_any_piece(riva: RivaServer) -> None:
    synthesizer = RivaStreamingSynthesizer(url=riva.url)
    with pytest.raises(ApiError) as refused:
        await anext(synthesizer.synthesize_pieces("안녕하세요.", "Seoyeon", "ko-KR"))
    assert refused.value.status == 400
