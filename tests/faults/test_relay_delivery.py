"""Transcript delivery when the ``@connections`` peer fails some posts (throttling): a delivery
is recorded only after a post succeeded, failed posts are retried with backoff and stay
replayable, and a page that comes back gets what it missed, once."""

from __future__ import annotations

from tests.faults.relay_harness import *  # noqa: F403


def post(api, token, seq, text, *, utterance="utt1", final=False):
    body = {"utteranceId": utterance, "seq": seq, "text": text, "final": final}
    return api.rest("POST", "/api/transcripts", token=token, body=body)


def texts(api, page):
    return [m["text"] for m in api.received(page) if m["type"] == "transcript"]


def test_a_post_that_keeps_failing_is_not_recorded_and_resume_replays_it(api, peer):
    alice = api.session()
    healthy, flaky = api.page(alice["token"]), api.page(alice["token"])
    first = post(api, alice["deviceToken"], 0, "하나").json()["id"]
    peer.failing.add(flaky)

    response = post(api, alice["deviceToken"], 1, "둘")

    assert response.status == 202, response.body  # the healthy page has it
    assert response.json()["delivered"] == 1
    assert texts(api, healthy) == ["하나", "둘"]
    assert texts(api, flaky) == ["하나"]

    assert peer.closed == [flaky]  # closed, so the page reconnects and resumes from "하나"

    peer.failing.discard(flaky)  # the peer recovers; the page is back and asks what it missed
    again = api.page(alice["token"])
    api.send(again, {"action": "resume", "after": first})
    api.send(again, {"action": "resume", "after": first})  # once, however often it asks
    assert texts(api, again) == ["둘"]


def test_a_page_that_reconnects_gets_everything_it_missed_once_in_order(api, peer):
    alice = api.session()
    page = api.page(alice["token"])
    last = post(api, alice["deviceToken"], 0, "t0").json()["id"]
    peer.failing.add(page)  # the page's connection is failing: posts are throttled
    assert post(api, alice["deviceToken"], 1, "t1").status == 202
    assert peer.closed == [page]  # given up on: closed, forgotten
    for seq in (2, 3):  # published while the page reconnects
        assert post(api, alice["deviceToken"], seq, f"t{seq}").json()["delivered"] == 0
    api.disconnect(page)

    again = api.page(alice["token"])
    api.send(again, {"action": "resume", "after": last})
    post(api, alice["deviceToken"], 4, "t4")  # live again
    api.send(again, {"action": "resume", "after": last})

    assert texts(api, again) == ["t1", "t2", "t3", "t4"]


def test_a_ping_whose_pong_cannot_be_posted_ends_the_route_cleanly(api, peer):
    page = api.page(api.session()["token"])
    peer.failing.add(page)  # throttled: the pong fails, and so does the error that follows it
    api.send(page, {"action": "ping"})  # the route ended with an exception before
    peer.failing.discard(page)
    api.send(page, {"action": "ping"})
    assert [e["type"] for e in api.received(page)] == ["pong"]


def test_a_page_transcript_whose_refusal_cannot_be_posted_ends_the_route_cleanly(api, peer):
    page = api.page(api.session()["token"])
    peer.failing.add(page)  # throttled: the refusal fails as well
    api.send(page, {"action": "transcript", "utteranceId": "u", "seq": -1, "text": "x"})
    peer.failing.discard(page)
    api.send(page, {"action": "transcript", "utteranceId": "u", "seq": -1, "text": "x"})
    assert [e["type"] for e in api.received(page)] == ["error"]
