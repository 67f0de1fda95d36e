"""``python -m local --asr riva --tts riva``: the page's microphone recognized by NVIDIA Riva and
the answer spoken by Riva, through the real ``nvidia-riva-client`` against the Riva gRPC server
of the Riva tests on 127.0.0.1 (no GPU)."""

from __future__ import annotations

import asyncio
import base64
import io
import struct
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("riva.client", reason="needs requirements/riva.txt")

import soundfile
from riva_fake_server import FakeRiva, RivaServer
from websockets.asyncio.client import connect

from local.options import parse_options
from tests.local.conftest import RunningStack, stack_env
from tests.local.local_ws import collect, open_page, page_url, send, turn_done

pytestmark = pytest.mark.timeout(60)

ANSWER = "Hello there. How are you today?"
CHUNK_MS = 160


@pytest.fixture(scope="module")
def riva() -> Iterator[RivaServer]:
    server = RivaServer(FakeRiva())
    yield server
    server.stop()


@pytest.fixture(scope="module")
def riva_stack(
    riva: RivaServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    args = [
        "--chat", "scripted",
        "--asr", "riva",
        "--tts", "riva",
        "--riva-url", riva.url,
        "--riva-chunk-ms", str(CHUNK_MS),
        "--riva-function-id", "fn-asr",
        "--riva-tts-function-id", "fn-tts",
        "--riva-tts-voice", "Magpie-Multilingual.EN-US.Aria",
        "--riva-tts-language", "en-US",
    ]  # fmt: skip
    with RunningStack(
        tmp_path_factory.mktemp("riva-stack"),
        args,
        stack_env(SCRIPTED_ANSWER=ANSWER, VOICEBOT_RIVA_API_KEY="nvapi-local"),
    ) as stack:
        yield stack


def tone_words(*words: tuple[int, float]) -> bytes:
    """PCM the fake server hears as words: ``(v, seconds)`` is a run of sample ``v``, "w<v>"."""
    return b"".join(struct.pack("<h", value) * int(16_000 * seconds) for value, seconds in words)


def nth(count: int, kind: str, **fields: Any) -> Callable[[dict[str, Any]], bool]:
    """Until the ``count``-th message of this type (with these fields) has arrived."""
    seen = 0

    def until(message: dict[str, Any]) -> bool:
        nonlocal seen
        if message.get("type") == kind and fields.items() <= message.items():
            seen += 1
        return seen == count

    return until


async def test_microphone_audio_becomes_transcripts_through_riva(
    riva_stack: RunningStack, riva: RivaServer
) -> None:
    engines = riva_stack.page_config()["engines"]
    assert engines["asr"] == f"riva ({riva.url})"
    token = riva_stack.client_token()
    # The first utterance's final comes late, after the second, shorter one has been answered:
    # the page must still get them in the order spoken.
    riva.servicer.final_delays_s[len(riva.servicer.calls)] = 1.5
    page = await open_page(riva_stack.ws_url, token)
    mic = await connect(page_url(riva_stack.ws_url, token, "/mic"))
    try:
        for utterance in (tone_words((100, 0.4), (200, 0.4)), tone_words((300, 0.3))):
            frame = 16_000 * 2 // 10  # 100 ms, as the page's audio worklet sends
            for start in range(0, len(utterance), frame):
                await mic.send(utterance[start : start + frame])
                await asyncio.sleep(0.005)
            await mic.send('{"type": "end"}')
        events = await collect(page, nth(2, "transcript", final=True))
        acknowledged = await collect(mic, nth(2, "utterance"))
    finally:
        await mic.close()
        await page.close()

    assert {e["type"] for e in events} == {"transcript"}
    final_events = [e for e in events if e["final"]]
    assert [e["text"] for e in final_events] == ["w100 w200", "w300"]
    first, second = (e["utteranceId"] for e in final_events)
    assert first != second and first.startswith("mic-") and second.startswith("mic-")
    for utterance_id in (first, second):
        mine = [e for e in events if e["utteranceId"] == utterance_id]
        assert [e["seq"] for e in mine] == list(range(len(mine)))
        assert mine[-1]["final"] and all(not e["final"] for e in mine[:-1])
        assert all(e["lang"] == "ko-KR" for e in mine)
    assert next(e["text"] for e in events if e["utteranceId"] == first) == "w100"  # a partial
    assert acknowledged[0] == {"type": "status", "state": "listening"}
    assert {"type": "utterance", "utteranceId": first, "final": True} in acknowledged

    # One recognition stream per utterance, configured and authorized as the options said.
    calls = riva.servicer.calls
    assert len(calls) == 2
    for call in calls:
        assert call.config is not None
        assert call.config.interim_results
        assert call.config.config.language_code == "ko-KR"
        assert call.config.config.sample_rate_hertz == 16_000
        assert {len(chunk) for chunk in call.chunks} == {CHUNK_MS * 32}
        assert call.metadata["authorization"] == "Bearer nvapi-local"
        assert call.metadata["function-id"] == "fn-asr"


async def test_a_chat_turn_is_spoken_by_riva_as_ogg(
    riva_stack: RunningStack, riva: RivaServer
) -> None:
    engines = riva_stack.page_config()["engines"]
    assert engines["tts"] == f"riva ({riva.url}, Magpie-Multilingual.EN-US.Aria)"
    page = await riva_stack.new_page()
    try:
        await send(page, {"action": "chat", "turnId": "r1", "text": "Hi!"})
        events = await collect(page, turn_done("r1"))
    finally:
        await page.close()

    assert not [e for e in events if e["type"] == "error"], events
    sentences = [e["text"] for e in events if e["type"] == "sentence"]
    assert len(sentences) == 2
    for index, text in enumerate(sentences):
        parts = [e for e in events if e["type"] == "audio" and e["index"] == index]
        # Streamed (RIVA_TTS_STREAM's default): whole OGG files, numbered parts through the
        # sentence, ended by an empty last part.
        assert [p["part"] for p in parts] == list(range(len(parts)))
        assert (
            parts[-1]["last"] and parts[-1]["data"] == "" and not any(p["last"] for p in parts[:-1])
        )
        seconds = 0.0
        for piece in range(parts[-1]["piece"]):
            ogg = b"".join(base64.b64decode(p["data"]) for p in parts if p["piece"] == piece)
            info = soundfile.info(io.BytesIO(ogg))
            assert (info.format, info.subtype, info.channels) == ("OGG", "VORBIS", 1)
            seconds += info.duration
        assert parts[-1]["piece"] >= 2  # the first piece did not wait for the rest
        # The fake speaks 50 ms per character of what it was asked to say.
        assert seconds == pytest.approx(0.05 * len(text.strip()), abs=0.05)

    requests = riva.servicer.tts_requests
    # Sentences are synthesized side by side, so the requests may arrive in either order.
    assert sorted(r.text.strip() for r in requests) == sorted(s.strip() for s in sentences)
    assert {r.language_code for r in requests} == {"en-US"}  # not the stack's ko-KR
    assert {r.voice_name for r in requests} == {"Magpie-Multilingual.EN-US.Aria"}
    metadata = riva.servicer.tts_metadata[0]
    assert metadata["authorization"] == "Bearer nvapi-local"  # the interpreter's variable
    assert metadata["function-id"] == "fn-tts"


def test_riva_speech_in_korean_is_refused_before_anything_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        parse_options(["--tts", "riva"])
    assert "Riva has no Korean voice" in capsys.readouterr().err
    assert parse_options(["--tts", "riva", "--language", "en-US"]).riva.tts_language == "en-US"
