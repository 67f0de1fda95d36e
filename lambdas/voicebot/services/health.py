"""What ``GET /api/health`` reports: whether each backing service this function uses answers.

Each probe is one cheap round trip (a Redis read of a key that never exists, a DynamoDB query of a
user that never exists), all at once and each bounded by a short timeout, so a stalled service is
reported down instead of holding the health check (and whoever watches it) past its own timeout.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Literal

logger = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[object]]
State = Literal["up", "down"]


@dataclass(frozen=True)
class HealthReport:
    services: dict[str, State]

    @property
    def ok(self) -> bool:
        return all(state == "up" for state in self.services.values())

    @property
    def down(self) -> list[str]:
        return [name for name, state in self.services.items() if state == "down"]


class HealthCheck:
    def __init__(self, probes: Mapping[str, Probe], timeout_seconds: float = 1.0) -> None:
        self._probes = dict(probes)
        self._timeout = timeout_seconds

    async def report(self) -> HealthReport:
        names = list(self._probes)
        states = await asyncio.gather(*(self._state(name) for name in names))
        return HealthReport(dict(zip(names, states, strict=True)))

    async def _state(self, name: str) -> State:
        try:
            async with asyncio.timeout(self._timeout):
                await self._probes[name]()
        except Exception as exc:  # whatever the failure, the service did not answer
            logger.warning("%s is down", name, extra={"reason": type(exc).__name__})
            return "down"
        return "up"
