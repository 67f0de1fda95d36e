"""The Redis ports: a bounded stream per user, a connection registry, delivery and turn claims,
cancel flags. One client and one key scheme serve them all; each service sees only its port.

No Lambda ever waits on a subscription: the transcripts function appends to the stream and
posts to the user's connections itself; a page that missed events asks for them with ``resume``.
Every multi-key decision is one Lua script, so concurrent functions cannot interleave.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..contract.wire import TranscriptEvent, TranscriptPost
from ..errors import ServiceUnavailable
from ..ports import AppendResult, HeldAnswer

_PREFIX = "vb"
# A held answer lives as long as a turn may run (the chat function's timeout) and no longer.
HELD_ANSWER_TTL_SECONDS = 300

# KEYS: utterance hash, user stream. ARGV: seq, final, maxlen, ttl, event json.
_APPEND = """
local prev = redis.call('HGET', KEYS[1], 's:' .. ARGV[1])
if prev then return {'repeat', prev} end
if redis.call('HEXISTS', KEYS[1], 'final') == 1 then return {'closed', ''} end
local last = redis.call('HGET', KEYS[1], 'last')
if last and tonumber(ARGV[1]) < tonumber(last) then return {'stale', ''} end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'e', ARGV[5])
redis.call('HSET', KEYS[1], 'last', ARGV[1], 's:' .. ARGV[1], id)
if ARGV[2] == '1' then redis.call('HSET', KEYS[1], 'final', id) end
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return {'new', id}
"""

# KEYS: one "delivered" set per connection. ARGV: event id, ttl. Returns the indexes claimed.
_CLAIM = """
local claimed = {}
for i, key in ipairs(KEYS) do
  if redis.call('SADD', key, ARGV[1]) == 1 then
    redis.call('EXPIRE', key, ARGV[2])
    table.insert(claimed, i)
  end
end
return claimed
"""


# KEYS: the user's held-answer key. ARGV: answer id, turn id, connection id, text, ttl, the
# device's end of speech ('' when unknown).
# Adopts only the answer still current and not yet adopted, so a racing newer partial wins.
_ADOPT = """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local held = cjson.decode(raw)
if held['answer_id'] ~= ARGV[1] or type(held['turn_id']) == 'string' then return 0 end
held['turn_id'] = ARGV[2]
held['connection_id'] = ARGV[3]
held['confirmed_text'] = ARGV[4]
if ARGV[6] ~= '' then held['speech_ended_at'] = tonumber(ARGV[6]) end
redis.call('SET', KEYS[1], cjson.encode(held), 'EX', ARGV[5])
return 1
"""

# KEYS: the user's held-answer key. ARGV: answer id. Deletes it only if it is still that one.
_DISCARD = """
local raw = redis.call('GET', KEYS[1])
if raw and cjson.decode(raw)['answer_id'] == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""


def _translate_errors(fn: Any) -> Any:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        task = asyncio.current_task()
        cancels_before = task.cancelling() if task is not None else 0
        try:
            result = await fn(*args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            if task is not None and task.cancelling() > cancels_before:
                # A cancel that landed mid-command came back as a connection error: the caller
                # asked to stop, and must stop, not carry on as if Redis were down.
                raise asyncio.CancelledError from exc
            raise ServiceUnavailable("Redis is unreachable.") from exc
        if task is not None and task.cancelling() > cancels_before:
            # redis-py's asyncio client can swallow a cancel that lands while it waits for a
            # reply (redis/redis-py#2028, #2551): the task would run on, uncancellable.
            raise asyncio.CancelledError
        return result

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


class RedisBus:
    """ConnectionRegistry, TranscriptStream, DeliveryLedger, TurnClaims, CancelFlags and
    HeldAnswers."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        stream_maxlen: int = 1000,
        stream_ttl_seconds: int = 24 * 3600,
        connection_ttl_seconds: int = 3 * 3600,
    ) -> None:
        self._r = client
        self._maxlen = stream_maxlen
        self._stream_ttl = stream_ttl_seconds
        self._conn_ttl = connection_ttl_seconds
        self._append = client.register_script(_APPEND)
        self._claim = client.register_script(_CLAIM)
        self._adopt = client.register_script(_ADOPT)
        self._discard = client.register_script(_DISCARD)

    @staticmethod
    def _conn_key(connection_id: str) -> str:
        return f"{_PREFIX}:conn:{connection_id}"

    @staticmethod
    def _user_conns_key(user_id: str) -> str:
        return f"{_PREFIX}:conns:{{{user_id}}}"

    @staticmethod
    def _stream_key(user_id: str) -> str:
        return f"{_PREFIX}:stream:{{{user_id}}}"

    @staticmethod
    def _utterance_key(user_id: str, utterance_id: str) -> str:
        # The hash tag keeps a user's keys in one slot, so the scripts also work on a cluster.
        return f"{_PREFIX}:utt:{{{user_id}}}:{utterance_id}"

    @staticmethod
    def _delivered_key(user_id: str, connection_id: str) -> str:
        return f"{_PREFIX}:seen:{{{user_id}}}:{connection_id}"

    @staticmethod
    def _cancel_key(user_id: str, turn_id: str) -> str:
        return f"{_PREFIX}:cancel:{{{user_id}}}:{turn_id}"

    @_translate_errors
    async def register(self, user_id: str, connection_id: str) -> None:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.set(self._conn_key(connection_id), user_id, ex=self._conn_ttl)
            pipe.sadd(self._user_conns_key(user_id), connection_id)
            pipe.expire(self._user_conns_key(user_id), self._conn_ttl)
            await pipe.execute()

    @_translate_errors
    async def unregister(self, connection_id: str) -> None:
        user_id = await self._r.get(self._conn_key(connection_id))
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.delete(self._conn_key(connection_id))
            if user_id is not None:
                pipe.delete(self._delivered_key(_text(user_id), connection_id))
                pipe.srem(self._user_conns_key(_text(user_id)), connection_id)
            await pipe.execute()

    @_translate_errors
    async def owner(self, connection_id: str) -> str | None:
        value = await self._r.get(self._conn_key(connection_id))
        return None if value is None else _text(value)

    @_translate_errors
    async def connections(self, user_id: str) -> list[str]:
        members = await self._r.smembers(self._user_conns_key(user_id))
        return sorted(_text(m) for m in members)

    @_translate_errors
    async def append(self, user_id: str, post: TranscriptPost) -> AppendResult:
        # The stream keeps the post; the entry's id becomes the event's id when it is read.
        status, event_id = await self._append(
            keys=[self._utterance_key(user_id, post.utteranceId), self._stream_key(user_id)],
            args=[
                post.seq,
                "1" if post.final else "0",
                self._maxlen,
                self._stream_ttl,
                post.model_dump_json(exclude_none=True),
            ],
        )
        status_text = _text(status)
        return AppendResult(status=status_text, event_id=_text(event_id) or None)  # type: ignore[arg-type]

    @_translate_errors
    async def events_after(self, user_id: str, after: str) -> list[TranscriptEvent]:
        key = self._stream_key(user_id)
        known = False
        try:
            known = bool(await self._r.xrange(key, min=after, max=after, count=1))
        except aioredis.ResponseError:
            known = False  # not a stream id at all: replay everything retained
        start = f"({after}" if known else "-"
        entries = await self._r.xrange(key, min=start, max="+")
        return [
            _stored_event(_text(entry_id), _text(fields[b"e"]))
            for entry_id, fields in entries or []
            if entry_id is not None and fields is not None
        ]

    @_translate_errors
    async def event(self, user_id: str, event_id: str) -> TranscriptEvent | None:
        try:
            entries = await self._r.xrange(self._stream_key(user_id), event_id, event_id, count=1)
        except aioredis.ResponseError:
            return None  # not a stream id
        for entry_id, fields in entries or []:
            if entry_id is not None and fields is not None:
                return _stored_event(_text(entry_id), _text(fields[b"e"]))
        return None

    @_translate_errors
    async def claim_delivery(
        self, user_id: str, event_id: str, connection_ids: list[str]
    ) -> list[str]:
        if not connection_ids:
            return []
        claimed = await self._claim(
            keys=[self._delivered_key(user_id, c) for c in connection_ids],
            args=[event_id, self._conn_ttl],
        )
        return [connection_ids[int(i) - 1] for i in claimed]

    @_translate_errors
    async def claim_turn(self, user_id: str, turn_id: str) -> bool:
        key = f"{_PREFIX}:turn:{{{user_id}}}:{turn_id}"
        return bool(await self._r.set(key, "1", nx=True, ex=self._stream_ttl))

    @staticmethod
    def _held_key(user_id: str) -> str:
        return f"{_PREFIX}:held:{{{user_id}}}"

    @_translate_errors
    async def offer(self, user_id: str, answer: HeldAnswer) -> None:
        await self._r.set(
            self._held_key(user_id), json.dumps(asdict(answer)), ex=HELD_ANSWER_TTL_SECONDS
        )

    @_translate_errors
    async def current(self, user_id: str) -> HeldAnswer | None:
        raw = await self._r.get(self._held_key(user_id))
        return None if raw is None else HeldAnswer(**json.loads(_text(raw)))

    @_translate_errors
    async def adopt(
        self,
        user_id: str,
        answer_id: str,
        turn_id: str,
        connection_id: str,
        text: str,
        speech_ended_at: int | None = None,
    ) -> bool:
        keys = [self._held_key(user_id)]
        ended = "" if speech_ended_at is None else speech_ended_at
        args: list[str | int] = [answer_id, turn_id, connection_id, text]
        args += [HELD_ANSWER_TTL_SECONDS, ended]
        return bool(await self._adopt(keys=keys, args=args))

    @_translate_errors
    async def discard(self, user_id: str, answer_id: str) -> None:
        await self._discard(keys=[self._held_key(user_id)], args=[answer_id])

    @_translate_errors
    async def count_discarded(self, user_id: str) -> None:
        key = f"{self._held_key(user_id)}:discarded"
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, self._stream_ttl)
            await pipe.execute()

    @_translate_errors
    async def take_discarded(self, user_id: str) -> int:
        value = await self._r.getdel(f"{self._held_key(user_id)}:discarded")
        return int(_text(value)) if value is not None else 0

    @_translate_errors
    async def request_cancel(self, user_id: str, turn_id: str, heard: int | None) -> None:
        await self._r.set(
            self._cancel_key(user_id, turn_id), "" if heard is None else str(heard), ex=3600
        )

    @_translate_errors
    async def cancel_requested(self, user_id: str, turn_id: str) -> tuple[bool, int | None]:
        value = await self._r.get(self._cancel_key(user_id, turn_id))
        if value is None:
            return False, None
        text = _text(value)
        return True, int(text) if text else None


def _stored_event(event_id: str, stored: str) -> TranscriptEvent:
    fields = json.loads(stored)
    fields.pop("type", None)  # entries written before the contract layer carried it
    return TranscriptEvent(id=event_id, **fields)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
