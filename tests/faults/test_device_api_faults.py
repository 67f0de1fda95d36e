"""The interpreter's publisher against a transcripts API that fails some calls: a post the API
keeps failing is retried a bounded number of times and set aside (kept on disk), never blocking
the posts behind it; a transient 5xx/429 is retried until it goes through; a 401 renews the
device token instead of stopping the device, and a token near its expiry is renewed ahead."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from interpreter.outbox import DurableOutbox, OutboxError, user_key
from interpreter.publisher import TranscriptPost, TranscriptPublisher
from interpreter.tokens import DeviceCredentials
from tests.faults.device_harness import FakeTranscriptsApi


@pytest.fixture
def api() -> Iterator[FakeTranscriptsApi]:
    server = FakeTranscriptsApi().start()
    yield server
    server.stop()


def final(utterance: str, seq: int = 0) -> TranscriptPost:
    return TranscriptPost(utteranceId=utterance, seq=seq, text=f"{utterance}.", final=True)


def publisher_for(
    api: FakeTranscriptsApi, outbox: DurableOutbox, **options: Any
) -> TranscriptPublisher:
    return TranscriptPublisher(
        api.url,
        DeviceCredentials(api.token, save=outbox.save_token),
        outbox=outbox,
        backoff_initial_s=0.01,
        backoff_max_s=0.05,
        **options,
    )


async def deliver(publisher: TranscriptPublisher, timeout_s: float = 10) -> bool:
    worker = asyncio.create_task(publisher.run())
    try:
        return await publisher.drain(timeout_s)
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)


def relayed_finals(api: FakeTranscriptsApi) -> list[str]:
    return [p["utteranceId"] for p in api.finals()]


@pytest.mark.timeout(30)
async def test_a_post_the_api_keeps_failing_is_set_aside_and_the_queue_moves_on(
    api: FakeTranscriptsApi, tmp_path: Path
) -> None:
    failures = {"flaky": 3}  # 503 three times, then fine

    def fault(post: dict[str, Any]) -> int | None:
        if post["utteranceId"] == "poison":
            return 500  # this post fails every time
        if failures.get(post["utteranceId"], 0) > 0:
            failures[post["utteranceId"]] -= 1
            return 503 if post["utteranceId"] == "flaky" else 429
        return None

    api.fault = fault
    outbox = DurableOutbox(tmp_path / "outbox.db", user_key(api.token))
    publisher = publisher_for(api, outbox, max_attempts=4)
    for post in (final("before"), final("poison"), final("flaky"), final("after")):
        publisher.submit(post)

    assert await deliver(publisher), "one failing post must not hold the others forever"
    assert relayed_finals(api) == ["before", "flaky", "after"]
    assert publisher.parked == 1
    poison_statuses = [s for s in api.statuses if s == 500]
    assert len(poison_statuses) == 4, "retried a bounded number of times"
    assert [post.utteranceId for _, post in outbox.pending()] == ["poison"]
    outbox.close()

    # The next start sends the final that was set aside, once the API takes it.
    api.fault = None
    restarted = DurableOutbox(tmp_path / "outbox.db", user_key(api.token))
    again = publisher_for(api, restarted)
    assert again.restored == 1
    assert await deliver(again)
    assert relayed_finals(api) == ["before", "flaky", "after", "poison"]
    assert restarted.pending() == []
    restarted.close()


@pytest.mark.timeout(30)
async def test_a_401_renews_the_device_token_and_delivery_goes_on(
    api: FakeTranscriptsApi, tmp_path: Path
) -> None:
    outbox = DurableOutbox(tmp_path / "outbox.db", user_key(api.token))
    publisher = publisher_for(api, outbox)
    worker = asyncio.create_task(publisher.run())
    try:
        publisher.submit(final("one"))
        assert await publisher.drain(10)
        api.expire()  # the device token ran out (12 h on a Greengrass device)
        publisher.submit(final("two"))
        assert await publisher.drain(10)
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
    assert not worker.done() or worker.cancelled(), "the worker never stopped on the 401"

    assert relayed_finals(api) == ["one", "two"]
    assert api.renewals == 1
    assert publisher.credentials.token == api.token
    assert 401 in api.statuses
    # The renewed token is kept: a restarted device (with its old configured token) uses it.
    assert outbox.saved_token() == api.token
    outbox.close()


def token_expiring_in(seconds: int, lifetime: int = 12 * 3600) -> str:
    now = int(time.time())
    claims = {
        "sub": "u_fake",
        "scp": "device",
        "exp": now + seconds,
        "iat": now + seconds - lifetime,
    }
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"v1.{payload}.signature"


@pytest.mark.timeout(30)
async def test_a_token_near_its_expiry_is_renewed_before_any_post_is_refused(
    api: FakeTranscriptsApi, tmp_path: Path
) -> None:
    near = token_expiring_in(60)
    api.tokens = {near}
    api.token = near
    outbox = DurableOutbox(tmp_path / "outbox.db", user_key(near))
    publisher = publisher_for(api, outbox)
    renewal = asyncio.create_task(publisher.keep_token_fresh())
    try:
        for _ in range(200):
            if api.renewals:
                break
            await asyncio.sleep(0.02)
        publisher.submit(final("after-renewal"))
        assert await deliver(publisher)
    finally:
        renewal.cancel()
        await asyncio.gather(renewal, return_exceptions=True)
    assert api.renewals == 1
    assert 401 not in api.statuses
    assert relayed_finals(api) == ["after-renewal"]

    # A restart configured with the old token goes on with the renewed one it kept.
    restarted = DeviceCredentials(near, saved=outbox.saved_token())
    assert restarted.token == api.token != near
    outbox.close()


async def test_finals_left_under_another_users_token_are_not_sent_with_this_one(
    api: FakeTranscriptsApi, tmp_path: Path
) -> None:
    path = tmp_path / "outbox.db"
    theirs = DurableOutbox(path, user_key(token_expiring_in(3600)))  # another user's device token
    theirs.put(final("someone-else"))
    theirs.close()

    ours = DurableOutbox(path, user_key(api.token))
    publisher = publisher_for(api, ours)
    publisher.submit(final("mine"))
    assert await deliver(publisher)
    assert relayed_finals(api) == ["mine"]
    assert ours.others() == 1  # still kept for its own user
    ours.close()


def test_two_interpreters_cannot_share_one_outbox_file(tmp_path: Path) -> None:
    first = DurableOutbox(tmp_path / "outbox.db", "u_1")
    try:
        with pytest.raises(OutboxError, match="another interpreter is using it"):
            DurableOutbox(tmp_path / "outbox.db", "u_1")
    finally:
        first.close()
    DurableOutbox(tmp_path / "outbox.db", "u_1").close()  # free again once the first is closed
