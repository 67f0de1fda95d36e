"""Per-user fairness inside one process: a cap on each caller's requests in flight.

All handlers of a process share one Redis pool; without a cap, one user's flood takes every
connection and everyone else waits or fails. A caller past the cap is answered 429
``rate_limited`` at once, without touching Redis; others are not affected. The counts live on
the handlers' event loop (``runtime``), so no lock is needed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from .errors import rate_limited


class InFlightLimiter:
    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._counts: dict[str, int] = {}

    def in_flight(self, key: str) -> int:
        return self._counts.get(key, 0)

    @asynccontextmanager
    async def admit(self, key: str) -> AsyncIterator[None]:
        """Hold one of ``key``'s slots for the block; raise 429 rate_limited when none is free."""
        count = self._counts.get(key, 0)
        if count >= self._limit:
            raise rate_limited()
        self._counts[key] = count + 1
        try:
            yield
        finally:
            left = self._counts[key] - 1
            if left:
                self._counts[key] = left
            else:
                del self._counts[key]  # the map holds only callers with requests in flight
