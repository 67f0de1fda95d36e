"""A turn longer than API Gateway's integration timeout: the chat route answers at once and hands
the turn to the chat function, so the page gets only typed frames and no gateway error is logged.

The twin imitates the timeout (``--integration-timeout``, 29 s like API Gateway; 1 s here): a
route's function still running then gets its page the untyped frame API Gateway sends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from local.invoke import HandlerInvoker
from tests.local.conftest import RunningStack, stack_env
from tests.local.local_ws import collect, send, turn_done
from voicebot.contract import routes
from voicebot.contract.wire import SERVER_EVENTS

TIMEOUT_S = 1  # --integration-timeout below
SERVER_EVENT_TYPES = {cls.model_fields["type"].default for cls in SERVER_EVENTS}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[RunningStack]:
    with RunningStack(
        tmp_path / "data",
        ["--chat", "scripted", "--tts", "scripted", "--asr", "none", "--integration-timeout", "1"],
        # About 3 s of streaming: three times the integration timeout.
        stack_env(
            SCRIPTED_ANSWER="천천히 말하는 긴 대답입니다. " * 4,
            SCRIPTED_TOKENS_PER_SECOND="8",
        ),
    ) as running:
        yield running


async def test_a_turn_longer_than_the_integration_timeout_ends_with_typed_frames_only(
    stack,
) -> None:
    page = await stack.new_page()
    began = time.monotonic()
    await send(page, {"action": "chat", "turnId": "long", "text": "길게 말해 줘"})
    events = await collect(page, turn_done("long"), timeout=60)
    took = time.monotonic() - began
    await page.close()
    assert took > 2 * TIMEOUT_S, "the turn must outlast the integration timeout to prove anything"
    assert {e.get("type") for e in events} <= SERVER_EVENT_TYPES, events
    assert not [e for e in events if "message" in e and "type" not in e]
    assert events[-1]["type"] == "done" and not events[-1]["interrupted"]
    assert not [line for line in stack.output if "integration timed out" in line]


def test_every_websocket_route_answers_within_the_integration_timeout() -> None:
    specs = {spec.key: spec for spec in routes.FUNCTIONS}
    for route in routes.WEBSOCKET_ROUTES:
        spec = specs[route.function]
        assert spec.timeout_seconds < routes.INTEGRATION_TIMEOUT_SECONDS, route.route_key
    # The chat route only starts the turn, in the chat function, which no route reaches.
    chat_route = specs[routes.websocket_function("chat")]
    assert chat_route.starts_turns_in == "chat"
    assert "chat" not in {route.function for route in routes.WEBSOCKET_ROUTES}


async def test_the_twin_reports_a_route_that_outlives_its_timeout_as_api_gateway_does() -> None:
    """The imitation itself: a slow route's page hears of the timeout; the function goes on."""
    finished: list[bool] = []

    def slow(event: dict[str, Any], context: object) -> dict[str, Any]:
        time.sleep(0.4)
        finished.append(True)
        return {"statusCode": 200}

    invoker = HandlerInvoker(max_concurrent=2)
    invoker._modules["slow"] = SimpleNamespace(handler=slow)  # type: ignore[assignment]
    timed_out = asyncio.Event()
    invoker.invoke_route("slow", {}, timeout=0.1, on_timeout=timed_out.set)
    await asyncio.wait_for(timed_out.wait(), 5)
    assert finished == []
    await invoker.drain(timeout=5)
    assert finished == [True]
