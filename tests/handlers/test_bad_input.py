"""Bad input on every REST route: the documented 4xx, the error body, nothing stored or relayed."""

import time

import pytest

from voicebot.contract import routes
from voicebot.tokens import TokenSigner

# Every route that needs a signed token, from the registry. Renewing a device token also takes an
# expired one (a device that was off comes back): tests/faults/test_tokens_refresh.py covers it.
ROUTES = [
    (route.method, route.path, route.auth)
    for route in routes.REST_ROUTES
    if route.auth in ("client", "device") and route != routes.REFRESH_DEVICE_TOKEN
]
VALID_BODY = {
    "/api/transcripts": {"utteranceId": "u1", "seq": 0, "text": "hi", "final": True},
    "/api/speech": {"text": "hi"},
}


def assert_error(response, status, code=None):
    assert response.status == status, response.body
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert "Traceback" not in response.body.decode()
    if code:
        assert body["error"]["code"] == code


def tokens_for(api):
    session = api.session()
    expired, _ = TokenSigner(b"test-secret-that-is-long-enough-0123456789", 60).issue(
        session["userId"], "client", now=time.time() - 3600
    )
    return session, {
        "missing": None,
        "garbage": "garbage",
        "expired": expired,
        "tampered": session["token"][:-4] + "AAAA",
        "forged": TokenSigner(b"someone-elses-secret-0123456789", 60).issue("u_x", "client")[0],
    }


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
def test_every_authenticated_route_refuses_bad_tokens(api, method, path, scope):
    session, bad = tokens_for(api)
    wrong_scope = session["deviceToken"] if scope == "client" else session["token"]
    for token in [*bad.values(), wrong_scope]:
        response = api.rest(method, path, token=token, body=VALID_BODY.get(path))
        assert_error(response, 401, "unauthorized")


@pytest.mark.parametrize(
    "path", ["/api/transcripts", "/api/speech", "/api/sessions", "/api/transcribe/stream"]
)
@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("{", 400),
        ("[1, 2]", 400),
        ('"text"', 400),
        ("null", 400),
        ('{"a": "' + "x" * 66000 + '"}', 413),
    ],
)
def test_malformed_json_and_oversized_bodies(api, path, raw, status):
    session = api.session()
    token = session["deviceToken"] if path == "/api/transcripts" else session["token"]
    assert_error(api.rest("POST", path, token=token, raw=raw), status)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"utteranceId": "u1", "seq": 0, "text": "hi"},
        {"utteranceId": "u1", "seq": "0", "text": "hi", "final": True},
        {"utteranceId": "u1", "seq": 0, "text": ["hi"], "final": True},
        {"utteranceId": "../../etc", "seq": 0, "text": "hi", "final": True},
        {"utteranceId": "u1", "seq": 0, "text": "x" * 2001, "final": True},
        {"utteranceId": "u1", "seq": 9007199254740992, "text": "hi", "final": True},
        {"utteranceId": "u1", "seq": 0, "text": "hi", "final": "yes"},
    ],
)
def test_bad_transcripts_are_400_and_not_relayed(api, body):
    session = api.session()
    page = api.page(session["token"])
    assert_error(api.rest("POST", "/api/transcripts", token=session["deviceToken"], body=body), 400)
    assert api.received(page) == []


def test_html_in_a_transcript_is_relayed_verbatim_as_json_text(api):
    session = api.session()
    page = api.page(session["token"])
    text = '<img src=x onerror=alert(1)> & "quotes"'
    body = {"utteranceId": "u1", "seq": 0, "text": text, "final": True}
    assert (
        api.rest("POST", "/api/transcripts", token=session["deviceToken"], body=body).status == 202
    )
    assert api.received(page)[0]["text"] == text


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"text": ""},
        {"text": "x" * 1501},
        {"text": 12},
        {"text": "hi", "voice": "<Seoyeon>"},
        {"text": "hi", "lang": "ko_KR!"},
    ],
)
def test_bad_speech_requests_are_400_and_never_reach_polly(api, polly, body):
    before = len(polly.requests)
    assert_error(api.rest("POST", "/api/speech", token=api.session()["token"], body=body), 400)
    assert len(polly.requests) == before


def test_ssml_injection_in_speech_text_is_escaped(api, polly):
    text = '</speak><speak><amazon:effect name="whispered">pwned</amazon:effect>'
    response = api.rest("POST", "/api/speech", token=api.session()["token"], body={"text": text})
    assert response.status == 200
    assert "<amazon:effect" not in polly.last_request.text


def test_unknown_routes_are_404_with_the_error_body(api):
    from handlers import sessions
    from local.apigw import LambdaContext, rest_event

    result = sessions.handler(rest_event("GET", "/api/sessions"), LambdaContext())
    assert result["statusCode"] == 404
