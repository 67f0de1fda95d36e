import time

import pytest

from voicebot.tokens import TokenSigner


def test_connect_needs_an_unexpired_client_token(api):
    session = api.session()
    expired, _ = TokenSigner(b"test-secret-that-is-long-enough-0123456789", 60).issue(
        session["userId"], "client", now=time.time() - 3600
    )
    tampered = session["token"][:-3] + ("AAA" if not session["token"].endswith("AAA") else "BBB")
    assert api.connect(session["token"])[0] == 200
    for token in (None, "", "junk", session["deviceToken"], expired, tampered):
        assert api.connect(token)[0] == 401, token


def test_a_refused_connection_is_not_registered(api):
    status, connection_id = api.connect("junk")
    assert status == 401
    api.send(connection_id, {"action": "ping"})
    (error,) = api.received(connection_id)
    assert error["type"] == "error" and error["code"] == "unauthorized"


def test_ping_pong(api):
    page = api.page(api.session()["token"])
    api.send(page, {"action": "ping"})
    assert api.received(page) == [{"type": "pong"}]


def test_after_disconnect_nothing_is_delivered_to_the_connection(api):
    session = api.session()
    page = api.page(session["token"])
    api.disconnect(page)
    body = {"utteranceId": "u1", "seq": 0, "text": "hi", "final": False}
    response = api.rest("POST", "/api/transcripts", token=session["deviceToken"], body=body)
    assert response.json()["delivered"] == 0 and api.received(page) == []


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("{not json", "invalid_json"),
        ("[]", "invalid_json"),
        ('{"action": "dance"}', "unknown_action"),
        ('{"text": "no action"}', "unknown_action"),
        ('{"action": "chat", "turnId": "t1"}', "bad_request"),
        ('{"action": "chat", "turnId": "t1", "text": ""}', "bad_request"),
        ('{"action": "chat", "turnId": "bad id!", "text": "hi"}', "bad_request"),
        ('{"action": "chat", "turnId": "t1", "text": 5}', "bad_request"),
        ('{"action": "chat", "turnId": "t1", "text": "' + "x" * 2001 + '"}', "bad_request"),
        ('{"action": "cancel", "turnId": "t1", "heard": "2"}', "bad_request"),
        ('{"action": "resume"}', "bad_request"),
        ('{"action": "resume", "after": 5}', "bad_request"),
        ('{"action": "chat", "turnId": "t1", "text": "' + "x" * 70000 + '"}', "payload_too_large"),
    ],
)
def test_bad_messages_get_an_error_event_and_change_nothing(api, bedrock, message, code):
    session = api.session()
    page = api.page(session["token"])
    requests_before = len(bedrock.requests)
    api.send(page, message)
    (error,) = api.received(page)
    assert error["type"] == "error" and error["code"] == code
    assert "Traceback" not in error["message"]
    assert len(bedrock.requests) == requests_before
    assert api.rest("GET", "/api/history", token=session["token"]).json() == {"turns": []}
