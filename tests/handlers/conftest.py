"""Handler-test harness: invoke the real Lambda handlers with API Gateway-shaped events.

Pages are WebSocket connections registered through the real ``$connect`` handler; what the
handlers post to them goes through boto3 to moto's ``@connections`` server, where a recorder
keeps each message separately (moto itself concatenates them) and can mark a page as gone.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import pytest
from moto.apigatewaymanagementapi.models import ApiGatewayManagementApiBackend

from local.apigw import LambdaContext, response_body, rest_event, websocket_event
from tests.fakes.bedrock_server import FakeBedrock
from tests.fakes.connections import GoneException
from tests.fakes.polly_server import FakePolly
from voicebot import wiring
from voicebot.contract import routes
from voicebot.contract.settings import (
    ChatSettings,
    ConnectionsSettings,
    HistorySettings,
    PreemptionSettings,
    RedisSettings,
    SpeechSettings,
    TokenSettings,
)
from voicebot.contract.wire import TurnInvocation

SECRET = "test-secret-that-is-long-enough-0123456789"


class ConnectionRecorder:
    """Keeps every message posted to each connection, in order, with its arrival time."""

    def __init__(self) -> None:
        self.messages: dict[str, list[tuple[float, dict[str, Any]]]] = defaultdict(list)
        self.gone: set[str] = set()
        self.lock = threading.Lock()

    def record(self, connection_id: str, data: bytes) -> None:
        if connection_id in self.gone:
            raise GoneException()
        with self.lock:
            self.messages[connection_id].append((time.monotonic(), json.loads(data)))

    def reset(self) -> None:
        with self.lock:
            self.messages.clear()
            self.gone.clear()


_RECORDER: ConnectionRecorder | None = None


@pytest.fixture(scope="session")
def recorder() -> ConnectionRecorder:
    """The one recorder of the process: moto's post is patched once, for good. Modules that
    re-export this fixture (tests/faults) get their own session instance of it, and a second
    patch over the first would leave the handler tests reading a recorder nobody writes to."""
    global _RECORDER
    if _RECORDER is None:
        _RECORDER = ConnectionRecorder()
        rec = _RECORDER

        def post_to_connection(self: Any, data: bytes, connection_id: str) -> None:
            rec.record(unquote(connection_id), data)  # moto keeps the id URL-encoded

        ApiGatewayManagementApiBackend.post_to_connection = post_to_connection  # type: ignore[method-assign]
    return _RECORDER


@pytest.fixture(scope="session")
def bedrock() -> Iterator[FakeBedrock]:
    with FakeBedrock() as server:
        yield server


@pytest.fixture(scope="session")
def polly() -> Iterator[FakePolly]:
    with FakePolly() as server:
        yield server


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's own retries against the fakes, every one of them, without their waits.

    Throttling backs off for rand(0, 1) * 2**attempt seconds, and adaptive mode's token bucket
    then paces the next attempts, so a test that exhausts five attempts used to wait 8-13 s.
    Only the waits are shortened: the attempts, the errors and what the handler makes of them
    are botocore's and the fake's.
    """
    from botocore.retries.adaptive import ClientRateLimiter
    from botocore.retries.standard import ExponentialBackoff

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.01)
    monkeypatch.setattr(ClientRateLimiter, "on_sending_request", lambda self, request, **kw: None)


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


class Api:
    """Calls handlers the way API Gateway would, and reads what pages received."""

    def __init__(self, moto_url: str, recorder: ConnectionRecorder) -> None:
        self.domain = moto_url.removeprefix("http://")
        self.recorder = recorder
        self._counter = 0

    # ---- REST ----
    def rest(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Any = None,
        raw: bytes | str | None = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        # As API Gateway routes the path (any method) to the function that owns it.
        function = next(r.function for r in routes.REST_ROUTES if r.path == path)
        module = importlib.import_module(routes.handler_module(function))
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        payload = raw if raw is not None else (None if body is None else json.dumps(body))
        event = rest_event(method, path, headers=all_headers, query=query, body=payload)
        result = module.handler(event, LambdaContext())
        headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
        for key, values in (result.get("multiValueHeaders") or {}).items():
            headers[key.lower()] = ",".join(values)
        return Response(status=result["statusCode"], body=response_body(result), headers=headers)

    def session(self) -> dict[str, Any]:
        response = self.rest("POST", "/api/sessions", body={})
        assert response.status == 201, response.body
        return dict(response.json())

    # ---- WebSocket ----
    def connect(self, token: str | None) -> tuple[int, str]:
        ws_connect = importlib.import_module(routes.CONNECT.module)

        self._counter += 1
        connection_id = f"conn{self._counter}{int(time.time() * 1000) % 100000}="
        query = {"token": token} if token is not None else {}
        event = websocket_event(
            "$connect", connection_id, domain_name=self.domain, query=query, headers={}
        )
        return ws_connect.handler(event, LambdaContext())["statusCode"], connection_id

    def page(self, token: str) -> str:
        status, connection_id = self.connect(token)
        assert status == 200
        return connection_id

    def disconnect(self, connection_id: str) -> None:
        ws_disconnect = importlib.import_module(routes.DISCONNECT.module)

        event = websocket_event(routes.DISCONNECT.route_key, connection_id, domain_name=self.domain)
        ws_disconnect.handler(event, LambdaContext())

    def send(self, connection_id: str, message: Any) -> None:
        """One WebSocket message, routed by ``action`` like the API's route selection."""
        body = message if isinstance(message, str) else json.dumps(message, ensure_ascii=False)
        route = routes.route_key_for(body)
        event = websocket_event(route, connection_id, domain_name=self.domain, body=body)
        module = importlib.import_module(routes.handler_module(routes.websocket_function(route)))
        module.handler(event, LambdaContext())

    def send_in_background(self, connection_id: str, message: Any) -> threading.Thread:
        thread = threading.Thread(target=self.send, args=(connection_id, message), daemon=True)
        thread.start()
        return thread

    def received(self, connection_id: str) -> list[dict[str, Any]]:
        with self.recorder.lock:
            return [m for _, m in self.recorder.messages.get(connection_id, [])]

    def timed(self, connection_id: str) -> list[tuple[float, dict[str, Any]]]:
        with self.recorder.lock:
            return list(self.recorder.messages.get(connection_id, []))

    def wait_for(
        self,
        connection_id: str,
        predicate: Callable[[list[dict[str, Any]]], bool],
        timeout: float = 10.0,
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages = self.received(connection_id)
            if predicate(messages):
                return messages
            time.sleep(0.01)
        raise AssertionError(f"timed out; received {self.received(connection_id)!r}")

    def wait_done(self, connection_id: str, turn_id: str, timeout: float = 15.0) -> list[dict]:
        def done(messages: list[dict[str, Any]]) -> bool:
            return any(m["type"] == "done" and m.get("turnId") == turn_id for m in messages)

        return [
            m for m in self.wait_for(connection_id, done, timeout) if m.get("turnId") == turn_id
        ]


class InlineTurnStarter:
    """Runs the chat function's invocation to its end before the chat route returns, so a test's
    ``send`` of a chat returns with the turn answered (Lambda would run it asynchronously)."""

    async def start(self, turn: TurnInvocation) -> None:
        chat = importlib.import_module(routes.handler_module(turn.function))
        await asyncio.to_thread(chat.handler, turn.invocation_event(), LambdaContext())


class HandlerEnvironment(dict[str, str]):
    """The environment the handlers read their settings from (``wiring.configure``)."""

    def set(self, **variables: str) -> None:
        """Change some variables, as a redeploy with other settings would."""
        self.update(variables)
        wiring.configure(self)


def handler_environment(
    redis_url: str,
    moto_url: str,
    history_table: str,
    *,
    chat: dict[str, object],
    speech: dict[str, object],
) -> HandlerEnvironment:
    """The handlers' environment against these peers, with this chat model and voice."""
    return HandlerEnvironment(
        {
            **TokenSettings.environment(token_secret=SECRET),
            **RedisSettings.environment(redis_url=redis_url),
            **HistorySettings.environment(history_table=history_table, dynamodb_endpoint=moto_url),
            **ChatSettings.environment(**chat),
            **SpeechSettings.environment(**speech),
            # moto serves @connections at the root, not under a stage path as API Gateway does.
            **ConnectionsSettings.environment(connections_endpoint=moto_url),
            # Every partial that reads as a question would start a held turn; the tests of
            # preemptive answers turn them on (test_preemption.py).
            **PreemptionSettings.environment(preemptive_answers=False),
        }
    )


@pytest.fixture
def environment(
    redis_url: str,
    moto_url: str,
    history_table: str,
    bedrock: FakeBedrock,
    polly: FakePolly,
) -> Iterator[HandlerEnvironment]:
    env = handler_environment(
        redis_url,
        moto_url,
        history_table,
        chat={"chat_provider": "bedrock", "chat_endpoint": bedrock.url, "chat_region": "us-east-1"},
        speech={"tts_provider": "polly", "polly_endpoint": polly.url, "polly_region": "us-east-1"},
    )
    wiring.configure(env)
    yield env
    wiring.configure(None)


@pytest.fixture
def api(
    environment: dict[str, str],
    moto_url: str,
    recorder: ConnectionRecorder,
    bedrock: FakeBedrock,
    polly: FakePolly,
) -> Iterator[Api]:
    recorder.reset()
    # The fakes are shared by the session; each test starts from their quiet defaults.
    bedrock.answer, bedrock.script, bedrock.tokenize = "안녕하세요. 반갑습니다.", None, 4
    bedrock.first_token_delay = bedrock.token_interval = 0.0
    bedrock.throttle_first_n, bedrock.fail_mid_stream, bedrock.gate = 0, None, None
    polly.delay, polly.throttle_first_n, polly.fail_all = 0.0, 0, False
    wiring.use_turn_starter(InlineTurnStarter())
    yield Api(moto_url, recorder)
    wiring.use_turn_starter(None)
    wiring.reset()
