"""Malformed input anywhere gets its documented 4xx and error body: never a 500, a traceback in a
response or a log, or a dropped socket (docs/PROTOCOL.md, "Errors").

Most inputs go through the real handlers with API Gateway events (the harness of
``tests/handlers``); a handful go through the real local stack, so its WebSocket twin is covered
too. Inputs that failed on main before this suite: deeply nested JSON (REST 500; the twin dropped
the socket), ``?limit=²`` / ``?limit=١٠`` / a 5,000-digit limit (500), a UTF-16 body (accepted),
and validation errors of ``chat``/``cancel`` that lost their ``turnId``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from local.apigw import LambdaContext, rest_event
from tests.handlers import conftest as handler_harness
from tests.handlers.conftest import SECRET, Api, Response
from tests.local import conftest as stack_harness
from tests.local.conftest import RunningStack
from tests.local.local_ws import collect, page_url
from voicebot.tokens import TokenSigner

# The fixtures of the two harnesses, used here as in their own folders.
api, environment = handler_harness.api, handler_harness.environment
recorder, bedrock, polly = handler_harness.recorder, handler_harness.bedrock, handler_harness.polly
scripted_stack = stack_harness.scripted_stack

DEEP = 10_000  # nesting levels: far past the JSON decoder's recursion limit, under 64 KiB
HUGE_INT = "9" * 5000  # more digits than Python's int() converts by default (4300)


def assert_error(response: Response, status: int, code: str) -> None:
    text = response.body.decode("utf-8", errors="replace")
    assert response.status == status, text
    assert "Traceback" not in text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code, body


@pytest.fixture
def clean_logs(capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Any:
    """After the test: nothing was logged as an error, and nothing logged holds a traceback
    (Powertools' Logger writes to stdout; libraries log through ``logging``)."""
    yield
    out, err = capfd.readouterr()
    records = caplog.get_records("setup") + caplog.get_records("call")
    logged = [logging.Formatter().format(record) for record in records]
    for text in (out, err, *logged):
        assert "Traceback" not in text
        assert "unhandled error" not in text
    assert [r.getMessage() for r in records if r.levelno >= logging.ERROR] == []


@pytest.fixture
def session(api: Api) -> dict[str, Any]:
    return api.session()


def non_ascii_signature(token: str) -> str:
    return token[:-1] + "é"


# ---- REST bodies ---------------------------------------------------------------------------------

TRANSCRIPT = {"utteranceId": "u1", "seq": 0, "text": "hi", "final": True}

# (name, path, raw body, status, code)
BODIES: list[tuple[str, str, str | bytes, int, str]] = [
    ("nested arrays", "/api/transcripts", "[" * DEEP + "]" * DEEP, 400, "invalid_json"),
    ("nested objects", "/api/speech", '{"a":' * DEEP + "1" + "}" * DEEP, 400, "invalid_json"),
    ("nested in a field", "/api/sessions", '{"accessCode":' + "[" * DEEP, 400, "invalid_json"),
    ("nested unclosed", "/api/transcripts", "[" * DEEP, 400, "invalid_json"),
    ("invalid utf-8", "/api/transcripts", b'{"text": "\xff\xfe"}', 400, "invalid_json"),
    ("utf-16 with bom", "/api/speech", '{"text":"hi"}'.encode("utf-16"), 400, "invalid_json"),
    ("utf-8 bom", "/api/speech", b'\xef\xbb\xbf{"text":"hi"}', 400, "invalid_json"),
    ("nul bytes", "/api/speech", '{"text":"hi"}'.encode("utf-16-le"), 400, "invalid_json"),
    ("empty", "/api/transcripts", "", 400, "invalid_json"),
    ("empty speech", "/api/speech", "", 400, "invalid_json"),
    ("whitespace", "/api/transcripts", "  \n ", 400, "invalid_json"),
    ("trailing garbage", "/api/speech", '{"text":"hi"} x', 400, "invalid_json"),
    ("5000-digit seq", "/api/transcripts",
     '{"utteranceId":"u1","seq":' + HUGE_INT + ',"text":"hi","final":true}', 400, "invalid_json"),
    ("seq 1e400", "/api/transcripts",
     '{"utteranceId":"u1","seq":1e400,"text":"hi","final":true}', 400, "bad_request"),
    ("seq NaN", "/api/transcripts",
     '{"utteranceId":"u1","seq":NaN,"text":"hi","final":true}', 400, "bad_request"),
    ("seq -Infinity", "/api/transcripts",
     '{"utteranceId":"u1","seq":-Infinity,"text":"hi","final":true}', 400, "bad_request"),
    ("seq 1.0", "/api/transcripts",
     '{"utteranceId":"u1","seq":1.0,"text":"hi","final":true}', 400, "bad_request"),
    ("seq -1", "/api/transcripts",
     '{"utteranceId":"u1","seq":-1,"text":"hi","final":true}', 400, "bad_request"),
    ("lone surrogate text", "/api/transcripts",
     '{"utteranceId":"u1","seq":0,"text":"\\ud800","final":true}', 400, "bad_request"),
    ("lone surrogate id", "/api/transcripts",
     '{"utteranceId":"\\udc00","seq":0,"text":"hi","final":true}', 400, "bad_request"),
    ("unicode-digit id", "/api/transcripts",
     '{"utteranceId":"u١","seq":0,"text":"hi","final":true}', 400, "bad_request"),
    ("final as string", "/api/transcripts",
     '{"utteranceId":"u1","seq":0,"text":"hi","final":"true"}', 400, "bad_request"),
    ("stableChars bool", "/api/transcripts",
     '{"utteranceId":"u1","seq":0,"text":"hi","final":false,"stableChars":true}', 400,
     "bad_request"),
    ("text null", "/api/transcripts",
     '{"utteranceId":"u1","seq":0,"text":null,"final":true}', 400, "bad_request"),
    ("speech lone surrogate", "/api/speech", '{"text":"\\udfff"}', 400, "bad_request"),
    ("speech text object", "/api/speech", '{"text":{"a":1}}', 400, "bad_request"),
    ("speech unicode-digit lang", "/api/speech", '{"text":"hi","lang":"ko-KR١"}', 400,
     "bad_request"),
    ("access code number", "/api/sessions", '{"accessCode":12}', 400, "bad_request"),
    ("access code surrogate", "/api/sessions", '{"accessCode":"\\ud800"}', 400, "bad_request"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "raw", "status", "code"),
    [pytest.param(*case[1:], id=case[0]) for case in BODIES],
)
def test_malformed_rest_bodies(
    api: Api,
    session: dict[str, Any],
    clean_logs: None,
    path: str,
    raw: str | bytes,
    status: int,
    code: str,
) -> None:
    token = session["deviceToken"] if path == "/api/transcripts" else session["token"]
    assert_error(api.rest("POST", path, token=token, raw=raw), status, code)


@pytest.mark.parametrize(
    ("content_type", "raw"),
    [
        ("application/x-www-form-urlencoded", "text=hi&voice=Seoyeon"),
        ("application/xml", "<speech><text>hi</text></speech>"),
        ("multipart/form-data; boundary=x", '--x\r\nContent-Disposition: form-data; name="text"'
         "\r\n\r\nhi\r\n--x--"),
        ("application/octet-stream", b"\x00\x01\x02\xff"),
    ],
    ids=["form", "xml", "multipart", "octets"],
)  # fmt: skip
def test_bodies_of_other_content_types_are_invalid_json(
    api: Api, session: dict[str, Any], clean_logs: None, content_type: str, raw: str | bytes
) -> None:
    headers = {"Content-Type": content_type}
    response = api.rest("POST", "/api/speech", token=session["token"], raw=raw, headers=headers)
    assert_error(response, 400, "invalid_json")


def test_a_body_flagged_base64_that_is_not_base64_is_invalid_json(
    api: Api, session: dict[str, Any], clean_logs: None
) -> None:
    from handlers import speech

    event = rest_event(
        "POST", "/api/speech", headers={"Authorization": f"Bearer {session['token']}"}
    )
    event.update(body="not*base64*at*all!", isBase64Encoded=True)
    result = speech.handler(event, LambdaContext())
    assert result["statusCode"] == 400
    assert json.loads(result["body"])["error"]["code"] == "invalid_json"


def test_a_json_body_sent_as_text_plain_is_read_as_json(
    api: Api, session: dict[str, Any], clean_logs: None
) -> None:
    # The Content-Type is not checked (docs/PROTOCOL.md): only the body must be JSON.
    response = api.rest(
        "POST",
        "/api/transcripts",
        token=session["deviceToken"],
        body=TRANSCRIPT,
        headers={"Content-Type": "text/plain"},
    )
    assert response.status == 202, response.body


# ---- the history limit ---------------------------------------------------------------------------


# Unicode digits (str.isdigit() accepts them, int() refuses or reads them), huge, out of range.
BAD_LIMITS = ["²", "١٠", "٣", "①", "５", HUGE_INT, "1" + "0" * 400, "0", "101", "-1", "+5", " 5"]
BAD_LIMITS += ["5 ", "1.5", "1e2", "0x10", "", "abc"]


@pytest.mark.parametrize(
    "limit",
    BAD_LIMITS,
    ids=lambda limit: limit if len(limit) < 10 else f"{len(limit)} digits",
)
def test_bad_history_limits_are_400(
    api: Api, session: dict[str, Any], clean_logs: None, limit: str
) -> None:
    response = api.rest("GET", "/api/history", token=session["token"], query={"limit": limit})
    assert_error(response, 400, "bad_request")


def test_a_limit_with_leading_zeros_is_still_a_number(api: Api, session: dict[str, Any]) -> None:
    response = api.rest("GET", "/api/history", token=session["token"], query={"limit": "007"})
    assert response.status == 200 and response.json() == {"turns": []}


# ---- tokens --------------------------------------------------------------------------------------


def bad_authorizations(session: dict[str, Any]) -> dict[str, str]:
    token = session["token"]
    payload = token.split(".")[1]
    signer = TokenSigner(SECRET.encode(), 60)
    return {
        "no bearer": token,
        "basic": f"Basic {token}",
        "bearer only": "Bearer",
        "bearer spaces": "Bearer    ",
        "two parts": "Bearer v1.abc",
        "empty parts": "Bearer v1..",
        "v2": "Bearer " + token.replace("v1.", "v2.", 1),
        "non-ascii payload": f"Bearer v1.{payload[:-1]}한.{token.split('.')[2]}",
        "nul": f"Bearer {token}\x00",
        "5000 chars": "Bearer " + "a" * 5000,
        # Signed with the right key but not claims a token can hold.
        "claims array": "Bearer " + _signed(signer, b"[1,2]"),
        "claims exp text": "Bearer " + _signed(signer, b'{"sub":"u_x","scp":"client","exp":"x"}'),
        "claims not json": "Bearer " + _signed(signer, b"\xff\xfe"),
    }


def _signed(signer: TokenSigner, claims: bytes) -> str:
    payload = base64.urlsafe_b64encode(claims).rstrip(b"=").decode()
    return f"v1.{payload}.{signer._mac(signer._current_keys().current, payload)}"


def test_garbled_tokens_are_401_on_every_authenticated_route(
    api: Api, session: dict[str, Any], clean_logs: None
) -> None:
    for name, authorization in bad_authorizations(session).items():
        for method, path in [("GET", "/api/history"), ("POST", "/api/sessions/refresh")]:
            response = api.rest(method, path, headers={"Authorization": authorization})
            assert response.status == 401, (name, path, response.body)
            assert_error(response, 401, "unauthorized")


def test_a_token_with_a_non_ascii_signature_is_401(
    api: Api, session: dict[str, Any], clean_logs: None
) -> None:
    token = non_ascii_signature(session["token"])
    assert_error(api.rest("GET", "/api/history", token=token), 401, "unauthorized")


def test_a_lower_case_authorization_header_is_read(api: Api, session: dict[str, Any]) -> None:
    # HTTP/2 clients send header names in lower case.
    response = api.rest(
        "GET", "/api/history", headers={"authorization": f"Bearer {session['token']}"}
    )
    assert response.status == 200


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "v1.x.y", "a" * 5000, "\ud800", "한국어", None],
    ids=["empty", "garbage", "bad-sig", "5000", "surrogate", "hangul", "none"],
)
def test_refused_handshakes_are_401(api: Api, clean_logs: None, token: str | None) -> None:
    assert api.connect(token)[0] == 401


def test_a_handshake_with_a_non_ascii_signature_is_401(
    api: Api, session: dict[str, Any], clean_logs: None
) -> None:
    assert api.connect(non_ascii_signature(session["token"]))[0] == 401


# ---- WebSocket messages --------------------------------------------------------------------------

# (name, message, code, the turnId the error must carry)
MESSAGES: list[tuple[str, str, str, str | None]] = [
    ("not json", "hello", "invalid_json", None),
    ("empty", "", "invalid_json", None),
    ("array", "[]", "invalid_json", None),
    ("nested", "[" * DEEP + "]" * DEEP, "invalid_json", None),
    ("nested in chat", '{"action":"chat","turnId":"t1","text":' + "[" * DEEP, "invalid_json",
     None),
    ("action number", '{"action":5}', "unknown_action", None),
    ("action unknown", '{"action":"dance"}', "unknown_action", None),
    ("action padded", '{"action":"ping "}', "unknown_action", None),
    ("action surrogate", '{"action":"\\ud800"}', "unknown_action", None),
    ("chat no turnId", '{"action":"chat","text":"hi"}', "bad_request", None),
    ("chat bad turnId", '{"action":"chat","turnId":"../t","text":"hi"}', "bad_request", None),
    ("chat surrogate turnId", '{"action":"chat","turnId":"\\ud800","text":"hi"}', "bad_request",
     None),
    ("chat long turnId", '{"action":"chat","turnId":"' + "t" * 65 + '","text":"hi"}',
     "bad_request", None),
    ("chat text number", '{"action":"chat","turnId":"t1","text":5}', "bad_request", "t1"),
    ("chat text surrogate", '{"action":"chat","turnId":"t2","text":"\\ud83d"}', "bad_request",
     "t2"),
    ("chat text empty", '{"action":"chat","turnId":"t3","text":""}', "bad_request", "t3"),
    ("chat text 2001", '{"action":"chat","turnId":"t4","text":"' + "가" * 2001 + '"}',
     "bad_request", "t4"),
    ("chat text list", '{"action":"chat","turnId":"t5","text":["hi"]}', "bad_request", "t5"),
    ("cancel heard string", '{"action":"cancel","turnId":"t6","heard":"2"}', "bad_request", "t6"),
    ("cancel heard -1", '{"action":"cancel","turnId":"t7","heard":-1}', "bad_request", "t7"),
    ("cancel heard 1e400", '{"action":"cancel","turnId":"t8","heard":1e400}', "bad_request",
     "t8"),
    ("cancel heard bool", '{"action":"cancel","turnId":"t9","heard":true}', "bad_request", "t9"),
    ("cancel heard 10001", '{"action":"cancel","turnId":"ta","heard":10001}', "bad_request",
     "ta"),
    ("cancel heard 5000 digits", '{"action":"cancel","turnId":"tb","heard":' + HUGE_INT + "}",
     "invalid_json", None),
    ("cancel no turnId", '{"action":"cancel","heard":1}', "bad_request", None),
    ("resume after number", '{"action":"resume","after":5}', "bad_request", None),
    ("resume after empty", '{"action":"resume","after":""}', "bad_request", None),
    ("resume after 65", '{"action":"resume","after":"' + "1" * 65 + '"}', "bad_request", None),
    ("too large", '{"action":"ping","pad":"' + "x" * 70_000 + '"}', "payload_too_large", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("message", "code", "turn_id"),
    [pytest.param(*case[1:], id=case[0]) for case in MESSAGES],
)
def test_malformed_websocket_messages(
    api: Api,
    session: dict[str, Any],
    clean_logs: None,
    message: str,
    code: str,
    turn_id: str | None,
) -> None:
    page = api.page(session["token"])
    api.send(page, message)
    events = api.wait_for(page, lambda received: len(received) >= 1)
    time.sleep(0.05)  # anything else it would send
    (event,) = api.received(page)
    assert event["type"] == "error" and event["code"] == code, event
    assert event.get("turnId") == turn_id, event
    # The socket still works.
    api.send(page, {"action": "ping"})
    assert api.wait_for(page, lambda received: len(received) == 2)[1] == {"type": "pong"}
    assert events


# ---- the local stack: its WebSocket twin and HTTP front ------------------------------------------


def _no_traceback(stack: RunningStack) -> None:
    output = "\n".join(stack.output)
    assert "Traceback" not in output, output[-4000:]


def test_the_local_stack_answers_malformed_rest_with_4xx(scripted_stack: RunningStack) -> None:
    with scripted_stack.client() as http:
        token = http.post("/api/sessions", json={}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        cases: list[tuple[httpx.Response, int, str]] = [
            (http.get("/api/history", params={"limit": "²"}, headers=auth), 400, "bad_request"),
            (http.get("/api/history", params={"limit": HUGE_INT}, headers=auth), 400,
             "bad_request"),
            (http.post("/api/speech", content=b"[" * DEEP, headers=auth), 400, "invalid_json"),
            (http.post("/api/speech", content=b'{"text":"\xff"}', headers=auth), 400,
             "invalid_json"),
            (http.post("/api/speech", content=b"x" * 70_000, headers=auth), 413,
             "payload_too_large"),
        ]  # fmt: skip
        for response, status, code in cases:
            assert response.status_code == status, response.text
            assert response.json()["error"]["code"] == code
    _no_traceback(scripted_stack)


async def test_the_twin_keeps_the_socket_open_after_malformed_frames(
    scripted_stack: RunningStack,
) -> None:
    token = await asyncio.to_thread(scripted_stack.client_token)
    async with connect(page_url(scripted_stack.ws_url, token), max_size=2**20) as ws:
        frames: list[tuple[str | bytes, str, str | None]] = [
            ("[" * DEEP + "]" * DEEP, "invalid_json", None),
            (b'{"action":"ping"\xff}', "invalid_json", None),  # a binary frame, not UTF-8
            (b"\x00\x01\x02", "invalid_json", None),
            ('{"action":"chat","turnId":"t1","text":"\\ud800"}', "bad_request", "t1"),
            ('{"action":"cancel","turnId":"t2","heard":"2"}', "bad_request", "t2"),
        ]
        for frame, code, turn_id in frames:
            await ws.send(frame)
            (event,) = await collect(ws, lambda e: e.get("type") == "error", timeout=10)
            assert event["code"] == code, (frame[:40], event)
            assert event.get("turnId") == turn_id
        await ws.send('{"action":"ping"}')
        assert await collect(ws, lambda e: e.get("type") == "pong", timeout=10)
    _no_traceback(scripted_stack)


async def test_the_twin_refuses_garbled_tokens_at_the_handshake(
    scripted_stack: RunningStack,
) -> None:
    for token in ["garbage", "v1.x.y", "a" * 5000]:
        with pytest.raises(InvalidStatus) as refused:
            await connect(page_url(scripted_stack.ws_url, token))
        assert refused.value.response.status_code == 401
    _no_traceback(scripted_stack)
