"""The page's microphone on AWS through the real handlers: the pre-signed Transcribe URL (signed
with botocore, verified here by the Transcribe peer's own SigV4 check), its stream quota, and the
page's transcripts entering the same relay as a device's."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.fakes.transcribe_ws import signature_problem

# tests/conftest.py gives every test these credentials (and AWS_REGION=us-east-1).
SECRETS = {"testing": "testing"}
STREAM = "/api/transcribe/stream"


def open_stream(api, token, body=None):
    return api.rest("POST", STREAM, token=token, body=body if body is not None else {})


def query_of(url):
    return dict(parse_qsl(urlsplit(url).query))


def test_a_page_gets_a_short_lived_korean_stream_url_signed_for_transcribe(api):
    alice = api.session()
    response = open_stream(api, alice["token"])

    assert response.status == 200, response.body
    stream = response.json()
    assert response.headers["cache-control"] == "no-store"
    url = urlsplit(stream["url"])
    assert (url.scheme, url.netloc, url.path) == (
        "wss",
        "transcribestreaming.us-east-1.amazonaws.com:8443",
        "/stream-transcription-websocket",
    )
    query = query_of(stream["url"])
    assert query["language-code"] == "ko-KR" == stream["lang"]
    assert query["media-encoding"] == "pcm"
    assert query["sample-rate"] == "16000" == str(stream["sampleRate"])
    assert query["enable-partial-results-stabilization"] == "true"
    assert query["partial-results-stability"] == "high"
    assert query["X-Amz-Expires"] == "30"
    assert query["X-Amz-Security-Token"] == "testing"  # the function's role session
    assert 0 < stream["expiresAt"] - time.time() <= 30
    target = f"{url.path}?{url.query}"
    assert signature_problem(target, url.netloc, SECRETS, "us-east-1", time.time()) is None
    # The signature covers the query: another language or host does not verify.
    assert signature_problem(
        target.replace("ko-KR", "en-US"), url.netloc, SECRETS, "us-east-1", time.time()
    )
    assert "expired" in (
        signature_problem(target, url.netloc, SECRETS, "us-east-1", time.time() + 31) or ""
    )


def test_the_pages_language_is_used_and_an_unstreamable_one_is_refused(api):
    token = api.session()["token"]
    english = open_stream(api, token, {"lang": "en-us"}).json()
    assert english["lang"] == "en-US" and query_of(english["url"])["language-code"] == "en-US"
    hindi = open_stream(api, token, {"lang": "hi-IN"}).json()
    assert hindi["stabilization"] is False
    assert "enable-partial-results-stabilization" not in query_of(hindi["url"])
    refused = open_stream(api, token, {"lang": "xx-XX"})
    assert refused.status == 400 and refused.json()["error"]["code"] == "unsupported_language"


def test_only_a_client_token_gets_a_stream(api):
    session = api.session()
    assert open_stream(api, session["deviceToken"]).status == 401
    assert open_stream(api, None).status == 401


def test_the_endpoint_setting_points_the_url_at_another_server(api, environment):
    environment.set(TRANSCRIBE_ENDPOINT="ws://127.0.0.1:9", TRANSCRIBE_URL_EXPIRY_SECONDS="10")
    stream = open_stream(api, api.session()["token"]).json()
    url = urlsplit(stream["url"])
    assert (url.scheme, url.netloc) == ("ws", "127.0.0.1:9")
    assert query_of(stream["url"])["X-Amz-Expires"] == "10"
    assert (
        signature_problem(f"{url.path}?{url.query}", url.netloc, SECRETS, "us-east-1", time.time())
        is None
    )


def test_streams_are_counted_against_the_users_quota(api, environment):
    environment.set(QUOTA_TRANSCRIBE_STREAMS="2", QUOTA_TRANSCRIBE_WINDOW_SECONDS="600")
    alice, bob = api.session(), api.session()
    assert [open_stream(api, alice["token"]).status for _ in range(2)] == [200, 200]
    refused = open_stream(api, alice["token"])
    assert refused.status == 429
    error = refused.json()["error"]
    assert error["code"] == "quota_exceeded" and 0 < error["retryAfter"] <= 600
    assert refused.headers["retry-after"] == str(error["retryAfter"])
    assert open_stream(api, bob["token"]).status == 200  # nobody else's quota


# ---- the page's transcripts: the same relay as a device's ----------------------------------


def transcripts(messages):
    return [m for m in messages if m["type"] == "transcript"]


POSTS = [
    {"utteranceId": "mic-a1", "seq": 0, "text": "안녕하세요", "final": False, "lang": "ko-KR",
     "stableChars": 0, "speechStartedAt": 1_700_000_000_000, "recognizedAt": 1_700_000_000_400},
    {"utteranceId": "mic-a1", "seq": 1, "text": "안녕하세요 오늘", "final": False, "lang": "ko-KR",
     "stableChars": 5, "speechStartedAt": 1_700_000_000_000, "recognizedAt": 1_700_000_000_700},
    {"utteranceId": "mic-a1", "seq": 2, "text": "안녕하세요 오늘 날씨가 좋네요", "final": True,
     "lang": "ko-KR", "speechStartedAt": 1_700_000_000_000,
     "speechEndedAt": 1_700_000_001_900, "recognizedAt": 1_700_000_002_300},
]  # fmt: skip


def without_id(event):
    return {k: v for k, v in event.items() if k != "id"}


def test_the_page_and_the_device_give_the_same_transcript_events(api):
    """The same posts from the device's REST route and the page's transcript action reach every
    page of the user as the same events (ids aside), and both are replayable."""
    alice = api.session()
    device_page, page = api.page(alice["token"]), api.page(alice["token"])
    for post in POSTS:
        assert (
            api.rest("POST", "/api/transcripts", token=alice["deviceToken"], body=post).status
            == 202
        )
    bob = api.session()
    bob_device, bob_page = api.page(bob["token"]), api.page(bob["token"])
    for post in POSTS:
        api.send(bob_page, {"action": "transcript", **post})

    from_device = transcripts(api.received(device_page))
    from_page = transcripts(api.received(bob_page))
    assert [without_id(e) for e in from_page] == [without_id(e) for e in from_device]
    assert [without_id(e) for e in from_page] == [{"type": "transcript", **p} for p in POSTS]
    # Every open page of the user, the sender included; nobody else's.
    assert transcripts(api.received(bob_device)) == from_page
    assert transcripts(api.received(page)) == from_device
    assert not set(e["id"] for e in from_page) & {e["id"] for e in transcripts(api.received(page))}
    # Replay works the same: a page that reconnects gets them again.
    late = api.page(bob["token"])
    api.send(late, {"action": "resume", "after": "0-0"})
    assert transcripts(api.received(late)) == from_page


def test_the_pages_transcripts_follow_the_relays_rules(api):
    alice = api.session()
    page = api.page(alice["token"])
    final = {"action": "transcript", "utteranceId": "mic-b", "seq": 0, "text": "네", "final": True}
    api.send(page, final)
    api.send(page, final)  # a repeat: accepted once, not relayed again
    api.send(page, {**final, "seq": 1, "text": "네 그래요"})
    api.send(page, {**final, "seq": "2"})  # strict: a string is not a seq
    received = api.received(page)
    assert len(transcripts(received)) == 1
    errors = [m["code"] for m in received if m["type"] == "error"]
    assert errors == ["utterance_closed", "bad_request"]


def test_a_connection_that_was_never_signed_in_cannot_post(api):
    api.send("never-connected=", {"action": "transcript", **POSTS[0]})
    assert [m["type"] for m in api.received("never-connected=")] == ["error"]
    assert api.received("never-connected=")[0]["code"] == "unauthorized"


@pytest.mark.parametrize("body", [{"lang": 5}, {"lang": "ko KR"}, {"lang": "x" * 40}])
def test_a_bad_language_is_a_400_and_counts_no_stream(api, environment, body):
    environment.set(QUOTA_TRANSCRIBE_STREAMS="1")
    token = api.session()["token"]
    refused = open_stream(api, token, body)
    assert refused.status == 400 and refused.json()["error"]["code"] == "bad_request"
    assert open_stream(api, token).status == 200  # the quota's one stream was still there
