"""The real amazon-transcribe client against the local Transcribe endpoint, which fails a stream
mid-utterance (an ``InternalFailureException`` event, as Transcribe sends when it drops one): the
interpreter reconnects, sends the utterance's audio again, and the utterance still gets its
final, once, under the utteranceId its partials had. When every reconnect fails too, the last
partial becomes the final rather than leaving the utterance open."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from amazon_transcribe.auth import StaticCredentialResolver

from interpreter.app import EXIT_OK, run
from interpreter.config import Settings
from interpreter.publisher import TranscriptPublisher
from interpreter.recognizers.transcribe import TranscribeRecognizer
from tests.faults.device_harness import TWO_UTTERANCES_WAV, FakeTranscribe, FakeTranscriptsApi

FIRST = "안녕하세요 오늘 날씨가 좋네요"
SECOND = "내일 다시 만나요"
FAIL_AFTER = 16_000  # bytes: half a second into the first utterance, after two partials


@pytest.fixture
def api() -> Iterator[FakeTranscriptsApi]:
    server = FakeTranscriptsApi().start()
    yield server
    server.stop()


async def listen_through(
    tmp_path: Path, api: FakeTranscriptsApi, fake: FakeTranscribe, caplog: pytest.LogCaptureFixture
) -> None:
    """The interpreter hears the WAV through ``fake`` (stopped after) and exits normally."""
    fake.start()
    try:
        with caplog.at_level(logging.WARNING):
            assert await listen(tmp_path, api, fake) == EXIT_OK
    finally:
        fake.stop()


async def listen(tmp_path: Path, api: FakeTranscriptsApi, fake: FakeTranscribe) -> int:
    recognizer = TranscribeRecognizer(
        region=fake.region,
        endpoint=fake.url,
        ca_file=fake.cert_path,
        credential_resolver=StaticCredentialResolver("AKIDTEST", fake.secret_key),
    )
    settings = Settings(
        api_url=api.url,
        device_token=api.token,
        wav=TWO_UTTERANCES_WAV,
        realtime=True,  # the reconnects happen while the utterance is still being spoken
        quiet=True,
    )
    publisher = TranscriptPublisher(api.url, api.token)  # in memory: this test is about recognition
    return await run(settings, recognizer=recognizer, publisher=publisher)


def utterances(api: FakeTranscriptsApi) -> dict[str, list[dict[str, Any]]]:
    by_id: dict[str, list[dict[str, Any]]] = {}
    for post in api.relayed:
        by_id.setdefault(post["utteranceId"], []).append(post)
    return by_id


@pytest.mark.timeout(40)
async def test_a_stream_failing_mid_utterance_reconnects_resends_and_gives_the_final(
    tmp_path: Path, api: FakeTranscriptsApi, caplog: pytest.LogCaptureFixture
) -> None:
    # Stream 0 fails; stream 1 is its reconnect (same words); stream 2 is the next utterance.
    fake = FakeTranscribe(
        tmp_path, [FIRST, FIRST, SECOND], partial_every_bytes=6400, fail_after_bytes={0: FAIL_AFTER}
    )
    await listen_through(tmp_path, api, fake, caplog)

    failed, resumed = fake.streams[0], fake.streams[1]
    assert failed.failed and not resumed.failed
    assert "Transcribe stream failed (InternalFailureException" in caplog.text
    # The new stream heard the utterance from its start again: the failed stream's audio first.
    heard_before = b"".join(failed.audio_chunks)
    assert b"".join(resumed.audio_chunks).startswith(heard_before)
    assert resumed.audio_bytes > failed.audio_bytes
    assert resumed.bad_signatures == 0

    finals = api.finals()
    assert [f["text"] for f in finals] == [FIRST, SECOND]
    first = utterances(api)[finals[0]["utteranceId"]]
    assert any(not p["final"] for p in first), "the partials before the failure"
    assert [p["final"] for p in first] == [False] * (len(first) - 1) + [True]
    seqs = [p["seq"] for p in first]
    assert seqs == sorted(set(seqs))


@pytest.mark.timeout(40)
async def test_when_every_reconnect_fails_the_last_partial_becomes_the_final(
    tmp_path: Path, api: FakeTranscriptsApi, caplog: pytest.LogCaptureFixture
) -> None:
    # The first stream and its three reconnects all fail; the next utterance is fine.
    fake = FakeTranscribe(
        tmp_path,
        [FIRST] * 4 + [SECOND],
        partial_every_bytes=6400,
        fail_after_bytes=dict.fromkeys(range(4), FAIL_AFTER),
    )
    await listen_through(tmp_path, api, fake, caplog)

    assert [s.failed for s in fake.streams] == [True] * 4 + [False]
    assert "giving up on this utterance" in caplog.text
    finals = api.finals()
    assert len(finals) == 2
    assert FIRST.startswith(finals[0]["text"]), "what the user last saw, made final"
    assert finals[1]["text"] == SECOND
    first = utterances(api)[finals[0]["utteranceId"]]
    assert first[-1] is finals[0]
