"""The publisher's delivery rules: order, coalescing, bounded outbox, and what each status means."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest
from interp_fake_api import FakeTranscriptsApi

from interpreter.publisher import (
    ApiAuthError,
    ApiUnavailableError,
    TranscriptPost,
    TranscriptPublisher,
)


def partial(utterance: str, seq: int) -> TranscriptPost:
    return TranscriptPost(
        utteranceId=utterance, seq=seq, text=f"{utterance} {seq}", final=False, lang="ko-KR"
    )


def final(utterance: str, seq: int) -> TranscriptPost:
    return TranscriptPost(
        utteranceId=utterance, seq=seq, text=f"{utterance} {seq}.", final=True, lang="ko-KR"
    )


async def deliver(publisher: TranscriptPublisher) -> None:
    worker = asyncio.create_task(publisher.run())
    try:
        assert await publisher.drain(10)
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)


def sent(api: FakeTranscriptsApi) -> list[tuple[str, int, bool]]:
    return [(p["utteranceId"], p["seq"], p["final"]) for p in api.posts]


@pytest.mark.timeout(20)
async def test_a_queued_partial_is_dropped_once_a_newer_transcript_of_its_utterance_is_queued(
    transcripts_api: FakeTranscriptsApi,
) -> None:
    publisher = TranscriptPublisher(transcripts_api.url, transcripts_api.token)
    for post in [partial("u1", 0), partial("u2", 0), partial("u1", 1), final("u1", 2)]:
        publisher.submit(post)
    await deliver(publisher)
    assert sent(transcripts_api) == [("u2", 0, False), ("u1", 2, True)]
    assert publisher.dropped_partials == 2


@pytest.mark.timeout(20)
async def test_a_full_outbox_drops_partials_first_and_a_final_only_loudly(
    transcripts_api: FakeTranscriptsApi, caplog: pytest.LogCaptureFixture
) -> None:
    publisher = TranscriptPublisher(transcripts_api.url, transcripts_api.token, max_pending=3)
    for post in [final("a", 0), final("b", 0), partial("c", 0), partial("d", 0), final("e", 0)]:
        publisher.submit(post)
    assert publisher.dropped_finals == 0
    with caplog.at_level(logging.ERROR):
        publisher.submit(final("g", 0))  # nothing but finals left: the oldest goes, loudly
    await deliver(publisher)
    assert sent(transcripts_api) == [("b", 0, True), ("e", 0, True), ("g", 0, True)]
    assert (publisher.dropped_partials, publisher.dropped_finals) == (2, 1)
    assert "DROPPED the oldest final transcript (utterance a seq 0" in caplog.text


@pytest.mark.timeout(20)
async def test_posts_carry_the_bearer_token_and_the_protocol_body(
    transcripts_api: FakeTranscriptsApi,
) -> None:
    publisher = TranscriptPublisher(transcripts_api.url + "/", transcripts_api.token)
    publisher.submit(
        TranscriptPost(utteranceId="u-1_x", seq=7, text="안녕하세요", final=True, lang="ko-KR")
    )
    await deliver(publisher)
    assert transcripts_api.posts == [
        {"utteranceId": "u-1_x", "seq": 7, "text": "안녕하세요", "final": True, "lang": "ko-KR"}
    ]


@pytest.mark.timeout(20)
async def test_utterance_closed_409_counts_as_done_and_delivery_goes_on(
    transcripts_api: FakeTranscriptsApi,
) -> None:
    publisher = TranscriptPublisher(transcripts_api.url, transcripts_api.token)
    for post in [final("u", 0), final("u", 1), final("v", 0)]:
        publisher.submit(post)
    await deliver(publisher)
    assert transcripts_api.statuses == [202, 409, 202]


@pytest.mark.timeout(20)
async def test_a_refused_device_token_stops_delivery_with_a_clear_error(
    transcripts_api: FakeTranscriptsApi,
) -> None:
    publisher = TranscriptPublisher(transcripts_api.url, "not-the-token")
    publisher.submit(final("u", 0))
    with pytest.raises(ApiAuthError, match="refused the device token"):
        await asyncio.wait_for(publisher.run(), 10)
    assert transcripts_api.renewals == 0  # it tried to renew the token, and was refused


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.timeout(20)
async def test_an_api_that_cannot_be_reached_at_start_is_reported() -> None:
    publisher = TranscriptPublisher(f"http://127.0.0.1:{_closed_port()}", "t")
    with pytest.raises(ApiUnavailableError, match="Cannot reach the Voicebot API"):
        await publisher.check_reachable()


@pytest.mark.timeout(20)
async def test_a_url_that_is_not_the_api_is_reported(transcripts_api: FakeTranscriptsApi) -> None:
    publisher = TranscriptPublisher(transcripts_api.url + "/not-here", "t")
    with pytest.raises(ApiUnavailableError, match="HTTP 404"):
        await publisher.check_reachable()
