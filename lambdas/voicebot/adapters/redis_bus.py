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

from ..contract.settings import RedisKeyBounds
from ..contract.wire import TranscriptEvent, TranscriptPost
from ..errors import ServiceUnavailable
from ..ports import Adoption, AppendResult, HeldAnswer

_PREFIX = "vb"
# A held answer lives as long as a turn may run (the chat function's timeout) and no longer.
HELD_ANSWER_TTL_SECONDS = 300
# A cancel flag matters while its turn runs (at most the chat function's timeout); a later one
# corrects the stored turn, which is not here.
CANCEL_TTL_SECONDS = 300
# A delivery claimed but neither confirmed nor released (the function died mid-post) may be
# claimed again after this long: longer than a post with all its retries can take.
DELIVERY_LEASE_MS = 60_000

# Redis's clock in ms, for the scripts that need one.
_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS: connection key, the user's pages (sorted by registration time).
# ARGV: user, connection, ttl, cap, key prefixes of a connection, its deliveries, its leases.
# Past the cap the oldest registrations are dropped (a page that vanished without $disconnect).
_REGISTER = (
    _NOW
    + """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
redis.call('ZADD', KEYS[2], now, ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if over <= 0 then return {} end
local dropped = redis.call('ZRANGE', KEYS[2], 0, over - 1)
for _, c in ipairs(dropped) do
  redis.call('ZREM', KEYS[2], c)
  redis.call('DEL', ARGV[5] .. c, ARGV[6] .. c, ARGV[7] .. c)
end
return dropped
"""
)

# KEYS: the user's pages (sorted by registration time). ARGV: connection. Its age on Redis's clock
# (the clock that stamped it), -1 when it is not registered.
_REGISTERED_FOR = (
    _NOW
    + """
local at = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not at then return -1 end
return now - tonumber(at)
"""
)

# KEYS: utterance hash, user stream, the user's utterances (sorted by last use).
# ARGV: seq, final, maxlen, ttl, event json, utterance id, repeat window, utterance cap,
# utterance key prefix. The hash keeps 'last', 'final', and 's:<seq>' -> event id for the last
# `window` accepted seqs ('win' lists them); past the cap the least recently used utterance of
# the user is forgotten.
_APPEND = """
local prev = redis.call('HGET', KEYS[1], 's:' .. ARGV[1])
if prev then return {'repeat', prev} end
if redis.call('HEXISTS', KEYS[1], 'final') == 1 then return {'closed', ''} end
local last = redis.call('HGET', KEYS[1], 'last')
if last and tonumber(ARGV[1]) < tonumber(last) then return {'stale', ''} end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'e', ARGV[5])
redis.call('HSET', KEYS[1], 'last', ARGV[1], 's:' .. ARGV[1], id)
if ARGV[2] == '1' then redis.call('HSET', KEYS[1], 'final', id) end
local seqs = {}
local win = redis.call('HGET', KEYS[1], 'win')
if win then for s in string.gmatch(win, '[^,]+') do table.insert(seqs, s) end end
table.insert(seqs, ARGV[1])
while #seqs > tonumber(ARGV[7]) do
  redis.call('HDEL', KEYS[1], 's:' .. table.remove(seqs, 1))
end
redis.call('HSET', KEYS[1], 'win', table.concat(seqs, ','))
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('ZADD', KEYS[3], tonumber(string.match(id, '^%d+')), ARGV[6])
redis.call('EXPIRE', KEYS[3], ARGV[4])
local over = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[8])
if over > 0 then
  for _, u in ipairs(redis.call('ZRANGE', KEYS[3], 0, over - 1)) do
    redis.call('DEL', ARGV[9] .. u)
  end
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, over - 1)
end
return {'new', id}
"""

# KEYS: per connection, its deliveries then its leases. ARGV: event id, lease ms.
# Claims a lease for each connection that has neither had the event nor a live lease on it;
# returns the indexes (1-based, per connection) claimed.
_CLAIM = (
    _NOW
    + """
local claimed = {}
for i = 1, #KEYS, 2 do
  local delivered, leases = KEYS[i], KEYS[i + 1]
  redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
  if not redis.call('ZSCORE', delivered, ARGV[1]) and not redis.call('ZSCORE', leases, ARGV[1]) then
    redis.call('ZADD', leases, now + tonumber(ARGV[2]), ARGV[1])
    redis.call('PEXPIRE', leases, ARGV[2])
    table.insert(claimed, (i + 1) / 2)
  end
end
return claimed
"""
)

# KEYS: per connection, its deliveries then its leases. ARGV: event id, its ms, ttl, cap.
# Records a delivery (after its post succeeded) and keeps only the newest `cap` records: an
# event older than those is no longer in the stream, so it can never be replayed anyway.
_CONFIRM = """
for i = 1, #KEYS, 2 do
  redis.call('ZADD', KEYS[i], ARGV[2], ARGV[1])
  redis.call('ZREM', KEYS[i + 1], ARGV[1])
  redis.call('EXPIRE', KEYS[i], ARGV[3])
  local over = redis.call('ZCARD', KEYS[i]) - tonumber(ARGV[4])
  if over > 0 then redis.call('ZREMRANGEBYRANK', KEYS[i], 0, over - 1) end
end
return 0
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
    HeldAnswers.

    Every key it writes expires, and each is bounded (``RedisKeyBounds``): the stream by
    ``transcript_stream_maxlen``, a user's pages by ``max_connections_per_user``, their utterances
    by ``max_utterances_per_user`` (each remembering ``utterance_repeat_window`` seqs), a page's
    delivery records by twice the stream bound, leases and claims by their short lifetimes.
    """

    def __init__(self, client: aioredis.Redis, bounds: RedisKeyBounds | None = None) -> None:
        self._r = client
        # The deployed defaults unless told otherwise (wiring passes the function's settings).
        self._bounds = bounds or RedisKeyBounds()
        self._register = client.register_script(_REGISTER)
        self._registered_for = client.register_script(_REGISTERED_FOR)
        self._append = client.register_script(_APPEND)
        self._claim = client.register_script(_CLAIM)
        self._confirm = client.register_script(_CONFIRM)
        self._adopt = client.register_script(_ADOPT)
        self._discard = client.register_script(_DISCARD)

    @staticmethod
    def _conn_key(connection_id: str) -> str:
        return f"{_PREFIX}:conn:{connection_id}"

    @staticmethod
    def _user_conns_key(user_id: str) -> str:
        # A sorted set (by registration time); the older "conns" set is never read again.
        return f"{_PREFIX}:pages:{{{user_id}}}"

    @staticmethod
    def _stream_key(user_id: str) -> str:
        return f"{_PREFIX}:stream:{{{user_id}}}"

    @staticmethod
    def _utterance_key(user_id: str, utterance_id: str) -> str:
        # The hash tag keeps a user's keys in one slot, so the scripts also work on a cluster.
        return f"{_PREFIX}:utt:{{{user_id}}}:{utterance_id}"

    @staticmethod
    def _utterances_key(user_id: str) -> str:
        return f"{_PREFIX}:utts:{{{user_id}}}"

    @staticmethod
    def _delivered_key(user_id: str, connection_id: str) -> str:
        # A sorted set (by event time) of the events posted to the page successfully.
        return f"{_PREFIX}:dlv:{{{user_id}}}:{connection_id}"

    @staticmethod
    def _lease_key(user_id: str, connection_id: str) -> str:
        return f"{_PREFIX}:lease:{{{user_id}}}:{connection_id}"

    @staticmethod
    def _turn_key(user_id: str, turn_id: str) -> str:
        return f"{_PREFIX}:turn:{{{user_id}}}:{turn_id}"

    @staticmethod
    def _cancel_key(user_id: str, turn_id: str) -> str:
        return f"{_PREFIX}:cancel:{{{user_id}}}:{turn_id}"

    @_translate_errors
    async def register(self, user_id: str, connection_id: str) -> None:
        await self._register(
            keys=[self._conn_key(connection_id), self._user_conns_key(user_id)],
            args=[
                user_id,
                connection_id,
                self._bounds.connection_ttl_seconds,
                self._bounds.max_connections_per_user,
                self._conn_key(""),
                self._delivered_key(user_id, ""),
                self._lease_key(user_id, ""),
            ],
        )

    @_translate_errors
    async def unregister(self, connection_id: str) -> None:
        user_id = await self._r.get(self._conn_key(connection_id))
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.delete(self._conn_key(connection_id))
            if user_id is not None:
                user = _text(user_id)
                pipe.delete(self._delivered_key(user, connection_id))
                pipe.delete(self._lease_key(user, connection_id))
                pipe.zrem(self._user_conns_key(user), connection_id)
            await pipe.execute()

    @_translate_errors
    async def owner(self, connection_id: str) -> str | None:
        value = await self._r.get(self._conn_key(connection_id))
        return None if value is None else _text(value)

    @_translate_errors
    async def connections(self, user_id: str) -> list[str]:
        members = await self._r.zrange(self._user_conns_key(user_id), 0, -1)
        return sorted(_text(m) for m in members)

    @_translate_errors
    async def registered_for_ms(self, user_id: str, connection_id: str) -> int | None:
        age = int(
            await self._registered_for(keys=[self._user_conns_key(user_id)], args=[connection_id])
        )
        return None if age < 0 else age

    @_translate_errors
    async def append(self, user_id: str, post: TranscriptPost) -> AppendResult:
        # The stream keeps the post; the entry's id becomes the event's id when it is read.
        status, event_id = await self._append(
            keys=[
                self._utterance_key(user_id, post.utteranceId),
                self._stream_key(user_id),
                self._utterances_key(user_id),
            ],
            args=[
                post.seq,
                "1" if post.final else "0",
                self._bounds.transcript_stream_maxlen,
                self._bounds.transcript_ttl_seconds,
                post.model_dump_json(exclude_none=True),
                post.utteranceId,
                self._bounds.utterance_repeat_window,
                self._bounds.max_utterances_per_user,
                self._utterance_key(user_id, ""),
            ],
        )
        status_text = _text(status)
        return AppendResult(status=status_text, event_id=_text(event_id) or None)  # type: ignore[arg-type]

    @_translate_errors
    async def events_after(
        self, user_id: str, after: str, limit: int = 1000
    ) -> list[TranscriptEvent]:
        # One bounded read, never the whole stream: ids are ordered by time, so an id that is
        # no longer (or never was) in the stream still says where to start.
        key = self._stream_key(user_id)
        try:
            entries = await self._r.xrange(key, min=f"({after}", max="+", count=limit)
        except aioredis.ResponseError:
            entries, after = [], ""  # not a stream id at all
        if not entries:
            newest = await self._r.xrevrange(key, count=1)
            if newest and _id_order(_text(newest[0][0])) < _id_order(after):
                # Not an id of this stream (later than anything in it: another server's clock,
                # or none at all): the newest events retained, oldest first.
                entries = list(reversed(await self._r.xrevrange(key, count=limit) or []))
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

    def _ledger_keys(self, user_id: str, connection_id: str) -> list[str]:
        return [
            self._delivered_key(user_id, connection_id),
            self._lease_key(user_id, connection_id),
        ]

    @_translate_errors
    async def claim_delivery(
        self, user_id: str, event_id: str, connection_ids: list[str]
    ) -> list[str]:
        if not connection_ids:
            return []
        keys = [k for c in connection_ids for k in self._ledger_keys(user_id, c)]
        claimed = await self._claim(keys=keys, args=[event_id, DELIVERY_LEASE_MS])
        return [connection_ids[int(i) - 1] for i in claimed]

    @_translate_errors
    async def confirm_delivery(
        self, user_id: str, event_id: str, connection_ids: list[str]
    ) -> None:
        if not connection_ids:
            return
        head = event_id.split("-", 1)[0]
        keys = [k for c in connection_ids for k in self._ledger_keys(user_id, c)]
        args: list[str | int] = [event_id, int(head) if head.isdigit() else 0]
        args += [self._bounds.connection_ttl_seconds, 2 * self._bounds.transcript_stream_maxlen]
        await self._confirm(keys=keys, args=args)

    @_translate_errors
    async def release_delivery(
        self, user_id: str, event_id: str, connection_ids: list[str]
    ) -> None:
        if not connection_ids:
            return
        async with self._r.pipeline(transaction=False) as pipe:
            for c in connection_ids:
                pipe.zrem(self._lease_key(user_id, c), event_id)
            await pipe.execute()

    @_translate_errors
    async def claim_turn(self, user_id: str, turn_id: str) -> bool:
        key = self._turn_key(user_id, turn_id)
        return bool(await self._r.set(key, "1", nx=True, ex=self._bounds.turn_claim_ttl_seconds))

    @_translate_errors
    async def release_turn(self, user_id: str, turn_id: str) -> None:
        await self._r.delete(self._turn_key(user_id, turn_id))

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
    async def adopt(self, user_id: str, answer_id: str, adoption: Adoption) -> bool:
        keys = [self._held_key(user_id)]
        ended = "" if adoption.speech_ended_at is None else adoption.speech_ended_at
        args: list[str | int] = [answer_id, adoption.turn_id, adoption.connection_id, adoption.text]
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
            pipe.expire(key, self._bounds.transcript_ttl_seconds)
            await pipe.execute()

    @_translate_errors
    async def take_discarded(self, user_id: str) -> int:
        value = await self._r.getdel(f"{self._held_key(user_id)}:discarded")
        return int(_text(value)) if value is not None else 0

    @_translate_errors
    async def request_cancel(self, user_id: str, turn_id: str, heard: int | None) -> None:
        await self._r.set(
            self._cancel_key(user_id, turn_id),
            "" if heard is None else str(heard),
            ex=CANCEL_TTL_SECONDS,
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


def _id_order(stream_id: str) -> tuple[int, int]:
    """A stream id's place in time; anything that is not one sorts after every id."""
    ms, _, seq = stream_id.partition("-")
    if not ms.isdigit() or not (seq or "0").isdigit():
        return (2**64, 0)
    return (int(ms), int(seq or 0))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
