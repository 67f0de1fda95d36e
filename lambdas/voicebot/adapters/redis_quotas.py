"""The quota counters on Redis: one integer per user and quota, expiring with its window.

Check and add are one Lua script, so two functions of one user spending at once cannot both pass
a limit that only one of them fits under. The window opens at a counter's first spend (its
``PEXPIRE``) and the key is gone when it ends: an idle user costs Redis nothing.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..errors import ServiceUnavailable
from ..ports import QuotaWindow

_PREFIX = "vb:quota:"

# KEYS: the counter. ARGV: amount, limit (-1: none), window in ms.
# Returns {added (0/1), used, milliseconds until the window ends}.
_SPEND = """
local amount = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if limit >= 0 and used + amount > limit then
  return {0, used, redis.call('PTTL', KEYS[1])}
end
local total = redis.call('INCRBY', KEYS[1], amount)
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {1, total, redis.call('PTTL', KEYS[1])}
"""


class RedisQuotaCounters:
    def __init__(self, client: aioredis.Redis) -> None:
        self._r = client
        self._spend = client.register_script(_SPEND)

    async def spend(
        self, counter: str, amount: int, limit: int | None, window_ms: int
    ) -> tuple[bool, QuotaWindow]:
        args = [amount, -1 if limit is None else limit, window_ms]
        try:
            added, used, ttl_ms = await self._spend(keys=[_PREFIX + counter], args=args)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise ServiceUnavailable("Redis is unreachable.") from exc
        return bool(added), QuotaWindow(int(used), max(0, int(ttl_ms)))

    async def window(self, counter: str) -> QuotaWindow:
        key = _PREFIX + counter
        try:
            async with self._r.pipeline(transaction=False) as pipe:
                pipe.get(key)
                pipe.pttl(key)
                used, ttl_ms = await pipe.execute()
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise ServiceUnavailable("Redis is unreachable.") from exc
        return QuotaWindow(int(used or 0), max(0, int(ttl_ms)))
