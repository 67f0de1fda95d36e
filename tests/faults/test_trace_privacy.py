"""What X-Ray and the logs get: names, timings and error codes, never a token, a transcript, an
answer or a history listing.

The X-Ray SDK runs for real here (enabled, with botocore patched as on Lambda), sending every
segment and subsegment to an emitter that keeps them instead of a daemon; the handlers run
through the harness of ``tests/handlers``. On main, Powertools' Tracer stored each traced
function's return value (the session's tokens, the history's turns) as segment metadata, and
the exception of a refused request with its message.
"""

from __future__ import annotations

import asyncio
import importlib
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from aws_xray_sdk import global_sdk_config
from aws_xray_sdk.core import patch, xray_recorder
from aws_xray_sdk.core.context import Context
from aws_xray_sdk.core.lambda_launcher import LAMBDA_TRACE_HEADER_KEY as TRACE_HEADER
from aws_xray_sdk.core.lambda_launcher import LambdaContext

from handlers._observability import logger as function_logger
from tests.handlers import conftest as handler_harness
from tests.handlers.conftest import Api
from voicebot.contract import routes
from voicebot.errors import ApiError

api, environment = handler_harness.api, handler_harness.environment
recorder, bedrock, polly = handler_harness.recorder, handler_harness.bedrock, handler_harness.polly

QUESTION = "내 비밀번호는 호랑이입니다"
ANSWER = "비밀은 지켜드릴게요. 걱정 마세요."
SPOKEN = "거실 불 좀 꺼 줘"


class KeptEmitter:
    """An X-Ray emitter that keeps what it would send to the daemon."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send_entity(self, entity: Any) -> None:
        self.sent.append(entity.serialize())

    def set_daemon_address(self, address: str | None) -> None:
        pass


@pytest.fixture
def traces(monkeypatch: pytest.MonkeyPatch) -> Iterator[KeptEmitter]:
    """The X-Ray SDK as on Lambda: the invocation's trace header in the environment, a facade
    segment per thread, every finished subsegment streamed out (here: kept)."""
    # Each function's Tracer is built when its module is imported, and (tracing being off in
    # tests) turns the SDK off then: import them all before turning it on.
    functions = {r.function for r in routes.REST_ROUTES} | {
        r.function for r in routes.WEBSOCKET_ROUTES
    }
    for function in functions:
        importlib.import_module(routes.handler_module(function))
    monkeypatch.setenv(
        TRACE_HEADER, "Root=1-6b0ec0cd-ec23e0dae7061cd52ace6b4f;Parent=53995c3f42cd8ad8;Sampled=1"
    )
    emitter = KeptEmitter()
    global_sdk_config.set_sdk_enabled(True)
    xray_recorder.configure(
        emitter=emitter, context=LambdaContext(), streaming_threshold=0, sampling=False
    )
    patch(["botocore"])  # as the Tracer does on Lambda (patch_modules=("botocore",))
    yield emitter
    global_sdk_config.set_sdk_enabled(False)
    xray_recorder.configure(context=Context())


def everything(emitter: KeptEmitter) -> str:
    return "\n".join(emitter.sent)


def subsegment_names(documents: str) -> set[str]:
    names: set[str] = set()

    def walk(entity: dict[str, Any]) -> None:
        names.add(entity.get("name", ""))
        for child in entity.get("subsegments", []):
            walk(child)

    for line in documents.splitlines():
        walk(json.loads(line))
    return names


def test_traces_hold_no_tokens_transcripts_answers_or_history(
    api: Api,
    bedrock: Any,
    traces: KeptEmitter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # What a function logs at its default level (the tests' environment says WARNING).
    caplog.set_level(logging.INFO)
    function_logger.setLevel(logging.INFO)
    lines = io.StringIO()
    stdout = function_logger.registered_handler.setStream(lines)  # type: ignore[attr-defined]
    bedrock.answer = ANSWER
    session = api.session()
    refreshed = api.rest("POST", "/api/sessions/refresh", token=session["token"]).json()
    page = api.page(session["token"])
    post = {"utteranceId": "u1", "seq": 0, "text": SPOKEN, "final": True}
    assert api.rest("POST", "/api/transcripts", token=session["deviceToken"], body=post).status
    api.send(page, {"action": "chat", "turnId": "t1", "text": QUESTION})
    api.wait_done(page, "t1")
    history = api.rest("GET", "/api/history", token=session["token"]).json()
    assert [(t["user"], t["assistant"]) for t in history["turns"]] == [(QUESTION, ANSWER)]
    speech = api.rest("POST", "/api/speech", token=session["token"], body={"text": SPOKEN})
    assert speech.status == 200
    # Refused requests: the exception must not carry their text into the trace either.
    api.rest("POST", "/api/speech", token=session["token"], body={"text": SPOKEN, "lang": "!"})
    api.send(page, {"action": "chat", "turnId": "t2", "text": 5})
    api.send(page, {"action": "resume", "after": "0"})  # replays the transcript; logs a count
    assert api.connect(session["deviceToken"])[0] == 401  # logs the refusal's code

    documents = everything(traces)
    secrets = [session["token"], session["deviceToken"], refreshed["token"], session["userId"]]
    secrets += [QUESTION, SPOKEN, "비밀은 지켜드릴게요", "걱정 마세요"]
    # The SDK stores strings as JSON: look for their escaped form too.
    for secret in secrets:
        for form in {secret, json.dumps(secret)[1:-1]}:
            assert form not in documents, secret
    assert '"metadata"' not in documents  # Powertools put responses and errors there
    assert '"cause"' not in documents  # the SDK's exception record (message and stack)
    names = subsegment_names(documents)
    # The traces still say what ran: the handlers, their routes and the AWS calls.
    assert "## handlers.history.list_history" in names
    assert "## handlers.sessions.create_session" in names
    assert {"dynamodb", "polly", "execute-api"} <= names  # execute-api: @connections
    assert '"ErrorCode": "bad_request"' in documents

    # The logs of all this: no token and no text either (log lines name codes and counts).
    # Powertools' Logger writes its JSON lines to stdout; libraries log through ``logging``.
    function_logger.registered_handler.setStream(stdout)  # type: ignore[attr-defined]
    function_logger.setLevel(logging.WARNING)
    logged = "\n".join([lines.getvalue(), *(logging.Formatter().format(r) for r in caplog.records)])
    assert '"service":"voicebot"' in logged  # the functions' own lines were there to read
    for secret in secrets:
        assert secret not in logged, secret


def test_a_failure_marks_a_fault_with_its_type_only(
    api: Api, traces: KeptEmitter, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = api.session()
    from voicebot import wiring

    def broken() -> Any:
        raise RuntimeError(f"leaked {session['token']}")

    monkeypatch.setattr(wiring, "history_service", broken)
    response = api.rest("GET", "/api/history", token=session["token"])
    assert response.status == 500
    documents = everything(traces)
    assert session["token"] not in documents and "leaked" not in documents
    assert '"Fault": "RuntimeError"' in documents and '"fault": true' in documents


def test_traced_coroutines_record_no_return_value_or_error_message(traces: KeptEmitter) -> None:
    from handlers._observability import tracer
    from voicebot.errors import bad_request

    @tracer.capture_method
    async def answer(text: str) -> str:
        return f"{text}!"

    @tracer.capture_method
    async def refuse(text: str) -> str:
        raise bad_request(f"no {text}")

    assert asyncio.run(answer(QUESTION)) == f"{QUESTION}!"
    with pytest.raises(ApiError):
        asyncio.run(refuse(QUESTION))
    documents = everything(traces)
    assert QUESTION not in documents and json.dumps(QUESTION)[1:-1] not in documents
    names = subsegment_names(documents)
    assert any(name.endswith(".answer") for name in names), names
    assert '"ErrorCode": "bad_request"' in documents and '"cause"' not in documents
