"""Pages recover on their own when Redis loses the connection registry (restarted, evicted,
replaced): the connection is told ``unauthorized`` and closed, the page reconnects, registers
again and resumes what it missed."""

from __future__ import annotations

from tests.faults.relay_harness import *  # noqa: F403


def post(api, token, seq, text):
    body = {"utteranceId": f"utt{seq}", "seq": 0, "text": text, "final": True}
    return api.rest("POST", "/api/transcripts", token=token, body=body)


def test_after_a_redis_restart_the_page_is_closed_and_reconnects_to_get_what_it_missed(
    api, peer, faulty_redis
):
    alice = api.session()
    page = api.page(alice["token"])
    last = post(api, alice["deviceToken"], 0, "하나").json()["id"]

    faulty_redis.restart()  # every key is gone: the registry, the stream, the claims
    during = post(api, alice["deviceToken"], 1, "둘")  # stored in the new stream, nobody to tell
    assert during.status == 202 and during.json()["delivered"] == 0
    api.send(page, {"action": "ping"})

    *_, error = api.received(page)
    assert (error["type"], error["code"]) == ("error", "unauthorized")
    assert peer.closed == [page]  # closed, so the page reconnects (web/js/connection.js)

    again = api.page(alice["token"])  # the page's reconnect registers it again
    api.send(again, {"action": "resume", "after": last})
    post(api, alice["deviceToken"], 2, "셋")
    api.send(again, {"action": "ping"})

    received = api.received(again)
    assert [m["text"] for m in received if m["type"] == "transcript"] == ["둘", "셋"]
    assert received[-1] == {"type": "pong"}


def test_a_chat_on_a_lost_connection_ends_its_turn_and_closes_the_connection(
    api, peer, faulty_redis
):
    alice = api.session()
    page = api.page(alice["token"])
    faulty_redis.restart()

    api.send(page, {"action": "chat", "turnId": "t1", "text": "안녕"})

    events = api.received(page)
    kinds = [(e["type"], e.get("code")) for e in events]
    assert kinds == [("error", "unauthorized"), ("done", None)]
    assert peer.closed == [page]
