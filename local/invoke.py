"""Invoke the Lambda handlers as API Gateway would: one call per request, off the event loop.

Handlers are synchronous (they wait on ``voicebot.runtime``'s shared loop), so each call takes a
worker thread, like a Lambda instance per concurrent request. The thread budget is far above
anyio's default of 40 so that dozens of streaming chat turns, plus the requests they cause
(``@connections`` posts come back into this same server), never wait for a free thread.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

import anyio.to_thread
from anyio import CapacityLimiter

from voicebot import runtime
from voicebot.contract.routes import FUNCTIONS
from voicebot.contract.wire import TurnInvocation

from .apigw import LambdaContext

logger = logging.getLogger("local.invoke")


class HandlerInvoker:
    def __init__(self, max_concurrent: int = 256) -> None:
        self._limiter = CapacityLimiter(max_concurrent)
        self._modules: dict[str, ModuleType] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._watchers: set[asyncio.Task[None]] = set()

    def load(self) -> None:
        """Import every handler once the environment is set (cold start, before ``ready``)."""
        for spec in FUNCTIONS:
            self._modules[spec.key] = importlib.import_module(spec.module)
        # The handlers' async code runs boto3 calls (DynamoDB, @connections) through
        # asyncio.to_thread on the shared loop, whose default pool has only cpu+4 threads: widen it
        # so 50+ concurrent turns are not queued behind each other's posts.
        runtime.run(_widen_default_executor(128))

    async def invoke(self, name: str, event: dict[str, Any]) -> dict[str, Any]:
        module = self._modules[name]
        # Abandon on cancel: when the stack stops, a turn still streaming must not hold it up
        # (its thread ends with the process, as a Lambda instance would be stopped).
        result = await anyio.to_thread.run_sync(
            module.handler, event, LambdaContext(), limiter=self._limiter, abandon_on_cancel=True
        )
        return dict(result or {})

    def invoke_in_background(self, name: str, event: dict[str, Any]) -> None:
        """Fire and forget, like an API Gateway WebSocket route: the socket keeps receiving."""
        task = asyncio.create_task(self._logged(name, event))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def invoke_route(
        self,
        name: str,
        event: dict[str, Any],
        *,
        timeout: float,
        on_timeout: Callable[[], None],
    ) -> None:
        """A WebSocket route's invocation, as API Gateway runs it: the socket keeps receiving,
        and an invocation still running after ``timeout`` (API Gateway: 29 s) is a gateway error:
        logged, and ``on_timeout`` tells the page. The function itself keeps running."""
        task = asyncio.create_task(self._logged(name, event))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

        async def watch() -> None:
            done, _ = await asyncio.wait({task}, timeout=timeout)
            if not done:
                logger.error(
                    "integration timed out: %s ran longer than %g s (the function goes on)",
                    name,
                    timeout,
                )
                on_timeout()

        watcher = asyncio.create_task(watch())
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)

    async def _logged(self, name: str, event: dict[str, Any]) -> None:
        try:
            await self.invoke(name, event)
        except Exception:
            # On AWS this is a failed invocation in the function's log; the page hears nothing.
            logger.exception("handler %s failed", name)

    async def drain(self, timeout: float) -> None:
        """Let running invocations finish (a turn being stored) before the stack stops."""
        if self._background:
            await asyncio.wait(list(self._background), timeout=timeout)


class InProcessTurnStarter:
    """The TurnStarter when the chat handler runs in this process: its invocation goes to the
    background, as Lambda's asynchronous invoke would, and the caller (the chat route, the
    transcripts call) returns at once.

    Called from a handler's thread (the handlers' own loop); the invocation runs on the server's.
    """

    def __init__(self, invoker: HandlerInvoker, loop: asyncio.AbstractEventLoop) -> None:
        self._invoker = invoker
        self._loop = loop

    async def start(self, turn: TurnInvocation) -> None:
        self._loop.call_soon_threadsafe(
            self._invoker.invoke_in_background, turn.function, turn.invocation_event()
        )


def _widen_default_executor(workers: int) -> Coroutine[Any, Any, None]:
    async def widen() -> None:
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="voicebot-io")
        asyncio.get_running_loop().set_default_executor(pool)

    return widen()
