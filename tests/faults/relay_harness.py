"""Fixtures for the relay, Redis and turn fault tests: the real handlers, a Redis of their own
that a test may pause, kill or restart, and an ``@connections`` peer that fails on demand.

Test modules take them with ``from tests.faults.relay_harness import *``. The handlers talk to
moto's ``@connections`` server through boto3, as on AWS; the peer here replaces moto's backend
calls for one test (so it composes with the handler tests' recorder) and can fail the next posts
to a connection with a throttling error, like API Gateway under load.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest
from moto.apigatewaymanagementapi.models import ApiGatewayManagementApiBackend
from moto.core.exceptions import ServiceException

from local.redis_server import EmbeddedRedis
from tests.fakes.connections import GoneException
from tests.handlers.conftest import (
    Api,
    HandlerEnvironment,
    InlineTurnStarter,
    handler_environment,
)
from voicebot import wiring
from voicebot.contract.settings import ConnectionsSettings, RedisSettings

__all__ = ["FaultyPeer", "api", "fault_env", "faulty_redis", "peer"]


class LimitExceededException(ServiceException):
    """API Gateway's throttling answer to a post (HTTP 429): botocore retries it, then raises."""

    code = "LimitExceededException"
    message = "Rate exceeded"


class FaultyPeer:
    """What the pages received, per connection, and the posts still to fail."""

    def __init__(self) -> None:
        self.messages: dict[str, list[tuple[float, dict[str, Any]]]] = defaultdict(list)
        self.gone: set[str] = set()
        self.closed: list[str] = []
        self.fail_next: dict[str, int] = defaultdict(int)  # connection -> posts still to fail
        self.failing: set[str] = set()  # connections whose every post fails
        self.failed = 0
        self.lock = threading.Lock()

    def record(self, connection_id: str, data: bytes) -> None:
        with self.lock:
            if connection_id in self.gone:
                raise GoneException()
            if connection_id in self.failing or self.fail_next[connection_id] > 0:
                self.fail_next[connection_id] = max(0, self.fail_next[connection_id] - 1)
                self.failed += 1
                raise LimitExceededException()
            self.messages[connection_id].append((time.monotonic(), json.loads(data)))

    def delete(self, connection_id: str) -> None:
        with self.lock:
            self.closed.append(connection_id)
            self.gone.add(connection_id)


@pytest.fixture(scope="module")
def faulty_redis() -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture
def peer() -> Iterator[FaultyPeer]:
    rec = FaultyPeer()
    post, delete = (
        ApiGatewayManagementApiBackend.post_to_connection,
        ApiGatewayManagementApiBackend.delete_connection,
    )

    def post_to_connection(self: Any, data: bytes, connection_id: str) -> None:
        rec.record(unquote(connection_id), data)  # moto keeps the id URL-encoded

    def delete_connection(self: Any, connection_id: str) -> None:
        rec.delete(unquote(connection_id))

    ApiGatewayManagementApiBackend.post_to_connection = post_to_connection  # type: ignore[method-assign]
    ApiGatewayManagementApiBackend.delete_connection = delete_connection  # type: ignore[method-assign]
    yield rec
    # Undo only what is still ours: the handler tests' session recorder may have been installed
    # over this patch during the test, and putting moto's own post back would silence it for
    # every later test of the worker.
    if ApiGatewayManagementApiBackend.post_to_connection is post_to_connection:
        ApiGatewayManagementApiBackend.post_to_connection = post  # type: ignore[method-assign]
    if ApiGatewayManagementApiBackend.delete_connection is delete_connection:
        ApiGatewayManagementApiBackend.delete_connection = delete  # type: ignore[method-assign]


@pytest.fixture
def fault_env(
    faulty_redis: EmbeddedRedis, moto_url: str, history_table: str
) -> Iterator[HandlerEnvironment]:
    """The handlers' environment on this module's Redis, with the scripted model and voice."""
    env = handler_environment(
        faulty_redis.url,
        moto_url,
        history_table,
        chat={"chat_provider": "scripted", "scripted_answer": "네. 알겠습니다."},
        speech={"tts_provider": "scripted"},
    )
    # Keep stalls short (main reads neither and waits its 5 s), and retried posts quick.
    env.update(RedisSettings.environment(redis_socket_timeout_seconds=1))
    env.update(ConnectionsSettings.environment(delivery_backoff_ms=20))
    wiring.configure(env)
    yield env
    wiring.configure(None)
    if faulty_redis._proc is None:  # a test killed it without starting it again
        faulty_redis.restart()
    else:
        faulty_redis.resume()


@pytest.fixture
def api(fault_env: HandlerEnvironment, moto_url: str, peer: FaultyPeer) -> Iterator[Api]:
    wiring.use_turn_starter(InlineTurnStarter())  # as the handler tests start the chat function
    yield Api(moto_url, peer)  # type: ignore[arg-type]  # the peer records as the recorder does
    wiring.use_turn_starter(None)
    wiring.reset()
