"""RedisQuotaCounters against a real (embedded) Redis: check-and-add is atomic, a refused spend
changes nothing, the window opens at the first spend and the counter is gone when it ends."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis

from local.redis_server import free_port
from voicebot.adapters.redis_quotas import RedisQuotaCounters
from voicebot.errors import ServiceUnavailable


@pytest.fixture
def counters(client: aioredis.Redis) -> RedisQuotaCounters:
    return RedisQuotaCounters(client)


def _counter() -> str:
    return f"turns:{uuid.uuid4().hex}"


async def test_spends_up_to_the_limit_then_refuses_without_counting(
    counters: RedisQuotaCounters,
) -> None:
    counter = _counter()
    assert (await counters.spend(counter, 3, 5, 60_000))[0] is True
    added, window = await counters.spend(counter, 3, 5, 60_000)
    assert added is False
    assert window.used == 3  # the refused 3 were not added
    assert 0 < window.resets_in_ms <= 60_000
    assert (await counters.spend(counter, 2, 5, 60_000))[0] is True
    assert (await counters.window(counter)).used == 5


async def test_no_limit_always_adds_and_the_window_is_not_extended(
    counters: RedisQuotaCounters, client: aioredis.Redis
) -> None:
    counter = _counter()
    await counters.spend(counter, 1, None, 60_000)
    await client.pexpire(f"vb:quota:{counter}", 5_000)  # as if most of the window had passed
    added, window = await counters.spend(counter, 10_000, None, 60_000)
    assert added is True and window.used == 10_001
    assert window.resets_in_ms <= 5_000


async def test_an_unused_counter_has_no_window(counters: RedisQuotaCounters) -> None:
    window = await counters.window(_counter())
    assert (window.used, window.resets_in_ms) == (0, 0)


async def test_the_counter_resets_when_its_window_ends(counters: RedisQuotaCounters) -> None:
    counter = _counter()
    await counters.spend(counter, 1, 1, 200)
    assert (await counters.spend(counter, 1, 1, 200))[0] is False
    await asyncio.sleep(0.3)
    assert (await counters.window(counter)).used == 0
    assert (await counters.spend(counter, 1, 1, 200))[0] is True


async def test_concurrent_spends_never_pass_the_limit(counters: RedisQuotaCounters) -> None:
    counter = _counter()
    results = await asyncio.gather(*(counters.spend(counter, 1, 7, 60_000) for _ in range(30)))
    assert sum(added for added, _ in results) == 7
    assert (await counters.window(counter)).used == 7


async def test_a_redis_that_is_down_raises_service_unavailable() -> None:
    down = aioredis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    try:
        with pytest.raises(ServiceUnavailable):
            await RedisQuotaCounters(down).spend(_counter(), 1, 1, 1000)
        with pytest.raises(ServiceUnavailable):
            await RedisQuotaCounters(down).window(_counter())
    finally:
        await down.aclose()
