"""One event loop per process for the handlers' async code.

Lambda calls handlers synchronously, and a warm container reuses module state between calls:
async clients (redis.asyncio) are bound to the loop that created their connections, so each
invocation must run on the same loop. ``run`` submits a coroutine to a long-lived loop on a
daemon thread. In the local stack several handler calls overlap (as several Lambda instances
would); they share this loop and interleave like any asyncio program.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

# boto3 calls (posts to @connections, Polly, DynamoDB) run in threads via asyncio.to_thread. The
# default pool has only cpu+4 threads — 5 on a small Lambda — which would queue a turn's audio
# posts behind its own synthesis calls; 64 idle threads cost almost nothing.
IO_THREADS = 64

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def _ensure_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            loop.set_default_executor(
                ThreadPoolExecutor(max_workers=IO_THREADS, thread_name_prefix="voicebot-io")
            )
            threading.Thread(target=loop.run_forever, name="voicebot-loop", daemon=True).start()
            _loop = loop
        return _loop


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the process's handler loop and wait for its result."""
    return asyncio.run_coroutine_threadsafe(coro, _ensure_loop()).result()
