"""Fixtures shared by the adapter tests that run against a real (embedded) Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
import redis.asyncio as aioredis


# On the test's own loop: the suite's async fixtures default to the session loop, and a client
# must be used and closed on the loop it was made on.
@pytest_asyncio.fixture(loop_scope="function")
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    r = aioredis.from_url(redis_url)
    yield r
    await r.aclose()
