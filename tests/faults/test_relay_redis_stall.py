"""A transcript answered 503 because Redis stalled past the handlers' timeout may still have been
stored (Redis runs the command when it wakes): the device's retry must then reach the pages
that never got it, exactly once."""

from __future__ import annotations

import time

import redis

from tests.faults.relay_harness import *  # noqa: F403


def test_a_final_answered_503_during_a_redis_stall_reaches_the_page_on_the_device_s_retry(
    api, faulty_redis
):
    alice = api.session()
    page = api.page(alice["token"])
    body = {"utteranceId": "utt1", "seq": 0, "text": "내일 날씨 어때요?", "final": True}
    warm = {"utteranceId": "utt0", "seq": 0, "text": "음", "final": True}
    # A warm function: Redis already has the append script (a cold one's would fail NOSCRIPT).
    assert api.rest("POST", "/api/transcripts", token=alice["deviceToken"], body=warm).status == 202

    faulty_redis.pause()
    try:
        stalled = api.rest("POST", "/api/transcripts", token=alice["deviceToken"], body=body)
    finally:
        faulty_redis.resume()
    assert stalled.status == 503

    # Redis ran the append once it woke: the final is stored, though its caller heard 503.
    direct = redis.Redis.from_url(faulty_redis.url)
    (stream,) = direct.keys("vb:stream:*")
    deadline = time.monotonic() + 5
    while direct.xlen(stream) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert direct.xlen(stream) == 2

    retried = api.rest("POST", "/api/transcripts", token=alice["deviceToken"], body=body)
    again = api.rest("POST", "/api/transcripts", token=alice["deviceToken"], body=body)

    assert retried.status == 202, retried.body
    assert retried.json()["delivered"] == 1
    assert again.json() == {"id": retried.json()["id"], "delivered": 0}  # the page has it now
    finals = [m for m in api.received(page) if m["type"] == "transcript"]
    assert [m["text"] for m in finals] == ["음", "내일 날씨 어때요?"]
    assert finals[1]["id"] == retried.json()["id"]
