"""RedisBus against a real (embedded) Redis server: the five Redis ports and their key hygiene.

Every test makes its own client and its own user and connection ids, so tests never see each
other's keys on the shared server and nothing needs flushing.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from local.redis_server import free_port
from voicebot.adapters.redis_bus import CANCEL_TTL_SECONDS, DELIVERY_LEASE_MS, RedisBus
from voicebot.contract.settings import RedisKeyBounds
from voicebot.contract.wire import TranscriptPost
from voicebot.errors import ServiceUnavailable
from voicebot.ports import AppendResult

CONN_TTL = 1111
STREAM_TTL = 2222
TURN_TTL = 900


@pytest.fixture
def bus(client: aioredis.Redis) -> RedisBus:
    bounds = RedisKeyBounds(
        transcript_stream_maxlen=1000,
        transcript_ttl_seconds=STREAM_TTL,
        connection_ttl_seconds=CONN_TTL,
        turn_claim_ttl_seconds=TURN_TTL,
    )
    return RedisBus(client, bounds)


def uid() -> str:
    return f"u_{uuid.uuid4().hex}"


def post(
    seq: int, text: str = "안녕", *, final: bool = False, utterance: str = "utt1"
) -> TranscriptPost:
    return TranscriptPost(utteranceId=utterance, seq=seq, text=text, final=final)


# ---- ConnectionRegistry ---------------------------------------------------------------------


async def test_registered_connections_are_listed_under_their_owner(bus: RedisBus) -> None:
    user, other = uid(), uid()
    await bus.register(user, f"{user}-b")
    await bus.register(user, f"{user}-a")
    await bus.register(other, f"{other}-c")

    assert await bus.connections(user) == [f"{user}-a", f"{user}-b"]
    assert await bus.owner(f"{user}-a") == user
    assert await bus.owner(f"{other}-c") == other
    assert await bus.connections(uid()) == []
    assert await bus.owner("never-registered") is None


async def test_unregister_forgets_the_connection_and_only_that_one(bus: RedisBus) -> None:
    user = uid()
    await bus.register(user, f"{user}-a")
    await bus.register(user, f"{user}-b")

    await bus.unregister(f"{user}-a")
    await bus.unregister("never-registered")  # no error

    assert await bus.owner(f"{user}-a") is None
    assert await bus.connections(user) == [f"{user}-b"]


async def test_a_registration_s_age_is_measured_on_redis_s_clock(bus: RedisBus) -> None:
    user = uid()
    await bus.register(user, f"{user}-a")
    await asyncio.sleep(0.05)

    age = await bus.registered_for_ms(user, f"{user}-a")
    assert age is not None and 50 <= age < 5_000
    assert await bus.registered_for_ms(user, "never-registered") is None
    assert await bus.registered_for_ms(uid(), f"{user}-a") is None  # someone else's page
    await bus.unregister(f"{user}-a")
    assert await bus.registered_for_ms(user, f"{user}-a") is None


# ---- TranscriptStream -----------------------------------------------------------------------


async def test_append_answers_new_repeat_stale_and_closed(bus: RedisBus) -> None:
    user = uid()

    first = await bus.append(user, post(0))
    assert first.status == "new" and first.event_id
    assert await bus.append(user, post(0)) == AppendResult("repeat", first.event_id)
    second = await bus.append(user, post(2, "안녕하"))
    assert second.status == "new" and second.event_id != first.event_id
    stale = await bus.append(user, post(1))
    assert (stale.status, stale.event_id) == ("stale", None)
    final = await bus.append(user, post(3, "안녕하세요", final=True))
    assert final.status == "new"
    closed = await bus.append(user, post(4, "더"))
    assert (closed.status, closed.event_id) == ("closed", None)
    # Repeating the final is a repeat (its id), not a conflict.
    assert await bus.append(user, post(3, "안녕하세요", final=True)) == AppendResult(
        "repeat", final.event_id
    )
    # Another utterance, or the same utterance id for another user, is independent.
    assert (await bus.append(user, post(0, utterance="utt2"))).status == "new"
    assert (await bus.append(uid(), post(4))).status == "new"


async def test_events_after_a_known_id_are_the_later_events_in_order(bus: RedisBus) -> None:
    user = uid()
    ids = [(await bus.append(user, post(i, f"말 {i}"))).event_id for i in range(3)]
    await bus.append(user, post(0, "마지막.", final=True, utterance="utt2"))

    events = await bus.events_after(user, str(ids[0]))

    assert [(e.id, e.utteranceId, e.seq, e.text, e.final) for e in events] == [
        (ids[1], "utt1", 1, "말 1", False),
        (ids[2], "utt1", 2, "말 2", False),
        (events[-1].id, "utt2", 0, "마지막.", True),
    ]
    assert await bus.events_after(user, events[-1].id) == []


async def test_one_event_is_found_by_its_id_with_the_device_s_times(bus: RedisBus) -> None:
    user = uid()
    sent = TranscriptPost(utteranceId="u1", seq=0, text="네.", final=True, speechEndedAt=42)
    event_id = (await bus.append(user, sent)).event_id
    assert event_id is not None

    found = await bus.event(user, event_id)

    assert found is not None and (found.text, found.speechEndedAt) == ("네.", 42)
    assert await bus.event(user, "1-0") is None
    assert await bus.event(user, "not-a-stream-id") is None


async def test_events_keep_the_optional_lang_only_when_it_was_sent(bus: RedisBus) -> None:
    user = uid()
    with_lang = TranscriptPost(utteranceId="u", seq=0, text="hello", final=False, lang="en-US")
    await bus.append(user, with_lang)
    await bus.append(user, post(1))

    assert [e.lang for e in await bus.events_after(user, "-")] == ["en-US", None]


@pytest.mark.parametrize("after", ["1-0", "99999999999999-0", "0", "not-a-stream-id", "-", "+"])
async def test_events_after_an_unknown_or_malformed_id_are_all_retained_events(
    bus: RedisBus, after: str
) -> None:
    user = uid()
    ids = [(await bus.append(user, post(i))).event_id for i in range(2)]

    assert [e.id for e in await bus.events_after(user, after)] == ids


async def test_events_after_on_an_empty_stream_are_none(bus: RedisBus) -> None:
    assert await bus.events_after(uid(), "not-a-stream-id") == []


async def test_the_stream_is_bounded_by_maxlen(client: aioredis.Redis) -> None:
    maxlen, appended = 10, 300
    bus = RedisBus(client, RedisKeyBounds(transcript_stream_maxlen=maxlen))
    user = uid()
    for seq in range(appended):
        await bus.append(user, post(seq))

    length = await client.xlen(RedisBus._stream_key(user))
    retained = await bus.events_after(user, "-")

    # MAXLEN ~ trims whole radix-tree nodes (stream-node-max-entries, 100 by default).
    assert maxlen <= length <= maxlen + 100
    assert len(retained) == length
    assert retained[-1].seq == appended - 1  # the newest are the ones kept


# ---- DeliveryLedger, TurnClaims --------------------------------------------------------------


async def test_claim_delivery_gives_each_connection_an_event_at_most_once(bus: RedisBus) -> None:
    user = uid()

    assert await bus.claim_delivery(user, "1-0", ["c1", "c2"]) == ["c1", "c2"]
    assert await bus.claim_delivery(user, "1-0", ["c2", "c3"]) == ["c3"]
    assert await bus.claim_delivery(user, "2-0", ["c1"]) == ["c1"]
    assert await bus.claim_delivery(user, "1-0", []) == []


async def test_concurrent_delivery_claims_let_exactly_one_win(bus: RedisBus) -> None:
    user = uid()

    results = await asyncio.gather(*(bus.claim_delivery(user, "7-0", ["c1"]) for _ in range(20)))

    assert sorted(map(tuple, results)) == [()] * 19 + [("c1",)]


async def test_unregister_forgets_what_was_delivered_to_the_connection(bus: RedisBus) -> None:
    user = uid()
    await bus.register(user, "c1")
    await bus.claim_delivery(user, "1-0", ["c1"])

    await bus.unregister("c1")

    assert await bus.claim_delivery(user, "1-0", ["c1"]) == ["c1"]


async def test_a_turn_is_claimed_once(bus: RedisBus) -> None:
    user = uid()

    results = await asyncio.gather(*(bus.claim_turn(user, "t1") for _ in range(10)))

    assert results.count(True) == 1
    assert await bus.claim_turn(user, "t1") is False
    assert await bus.claim_turn(user, "t2") is True
    assert await bus.claim_turn(uid(), "t1") is True  # turn ids are per user


# ---- CancelFlags ------------------------------------------------------------------------------


async def test_cancel_flags_with_and_without_heard(bus: RedisBus) -> None:
    user = uid()
    assert await bus.cancel_requested(user, "t1") == (False, None)

    await bus.request_cancel(user, "t1", None)
    await bus.request_cancel(user, "t2", 0)
    await bus.request_cancel(user, "t3", 4)

    assert await bus.cancel_requested(user, "t1") == (True, None)
    assert await bus.cancel_requested(user, "t2") == (True, 0)
    assert await bus.cancel_requested(user, "t3") == (True, 4)
    assert await bus.cancel_requested(uid(), "t3") == (False, None)


async def test_a_later_cancel_replaces_the_heard_count(bus: RedisBus) -> None:
    user = uid()
    await bus.request_cancel(user, "t1", 1)
    await bus.request_cancel(user, "t1", 3)

    assert await bus.cancel_requested(user, "t1") == (True, 3)


# ---- expiry -----------------------------------------------------------------------------------


async def test_every_key_the_bus_writes_expires(bus: RedisBus, client: aioredis.Redis) -> None:
    user = uid()
    conn = f"{user}-c1"
    await bus.register(user, conn)
    event = await bus.append(user, post(0))
    later = await bus.append(user, post(1))
    await bus.claim_delivery(user, str(event.event_id), [conn])
    await bus.confirm_delivery(user, str(event.event_id), [conn])
    await bus.claim_delivery(user, str(later.event_id), [conn])  # a post still in flight
    await bus.claim_turn(user, "t1")
    await bus.request_cancel(user, "t1", 1)

    keys = [k async for k in client.scan_iter(match=f"*{user}*")]
    ttls = {k.decode(): await client.ttl(k) for k in keys}

    assert all(ttl > 0 for ttl in ttls.values()), ttls
    expected = {
        RedisBus._conn_key(conn): CONN_TTL,
        RedisBus._user_conns_key(user): CONN_TTL,
        RedisBus._delivered_key(user, conn): CONN_TTL,
        RedisBus._lease_key(user, conn): DELIVERY_LEASE_MS // 1000,
        RedisBus._stream_key(user): STREAM_TTL,
        RedisBus._utterance_key(user, "utt1"): STREAM_TTL,
        RedisBus._utterances_key(user): STREAM_TTL,
        RedisBus._turn_key(user, "t1"): TURN_TTL,
        RedisBus._cancel_key(user, "t1"): CANCEL_TTL_SECONDS,
    }
    assert set(ttls) == set(expected)
    for key, ttl in expected.items():
        assert ttl - 5 <= ttls[key] <= ttl, (key, ttls[key])


async def test_each_append_renews_the_streams_expiry(bus: RedisBus, client: aioredis.Redis) -> None:
    user = uid()
    await bus.append(user, post(0))
    await client.expire(RedisBus._stream_key(user), 10)

    await bus.append(user, post(1))

    assert await client.ttl(RedisBus._stream_key(user)) > STREAM_TTL - 5


# ---- Redis down -------------------------------------------------------------------------------

CALLS: dict[str, Callable[[RedisBus], Awaitable[Any]]] = {
    "register": lambda b: b.register("u", "c"),
    "unregister": lambda b: b.unregister("c"),
    "owner": lambda b: b.owner("c"),
    "connections": lambda b: b.connections("u"),
    "append": lambda b: b.append("u", post(0)),
    "events_after": lambda b: b.events_after("u", "0-1"),
    "claim_delivery": lambda b: b.claim_delivery("u", "1-0", ["c"]),
    "claim_turn": lambda b: b.claim_turn("u", "t"),
    "request_cancel": lambda b: b.request_cancel("u", "t", None),
    "cancel_requested": lambda b: b.cancel_requested("u", "t"),
}


@pytest.mark.parametrize("call", sorted(CALLS))
async def test_a_redis_that_is_down_raises_service_unavailable(call: str) -> None:
    down = aioredis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    try:
        with pytest.raises(ServiceUnavailable):
            await asyncio.wait_for(CALLS[call](RedisBus(down)), timeout=10)
    finally:
        await down.aclose()


# ---- Cancellation -----------------------------------------------------------------------------


@pytest.mark.timeout(60)
async def test_a_cancelled_poller_stops_even_when_redis_py_swallows_the_cancel(
    bus: RedisBus,
) -> None:
    # A chat turn cancels its cancel-flag poller when the answer is done, and the poller is
    # usually mid-command then. redis-py can swallow a cancel that lands while it awaits a reply
    # (redis/redis-py#2028, #2551), or turn it into a connection error: the poller would loop
    # forever, or carry on as if Redis were down. Before the fix about 1 in 10 of these stuck.
    user = uid()

    async def poll() -> None:
        while True:
            await bus.cancel_requested(user, "t1")

    for attempt in range(200):
        poller = asyncio.create_task(poll())
        await asyncio.sleep(random.random() * 0.003)  # lands anywhere in a command
        poller.cancel()
        done, _ = await asyncio.wait({poller}, timeout=2)
        assert done, f"attempt {attempt}: the cancelled poller is still running"
        assert poller.cancelled(), f"attempt {attempt}: {poller.exception()!r}"
    assert await bus.cancel_requested(user, "t1") == (False, None)  # the client still works


# ---- delivery leases and bounds -----------------------------------------------------------------


async def test_a_released_delivery_can_be_claimed_again_and_a_confirmed_one_never(
    bus: RedisBus,
) -> None:
    user = uid()
    assert await bus.claim_delivery(user, "1-0", ["c1", "c2"]) == ["c1", "c2"]
    assert await bus.claim_delivery(user, "1-0", ["c1", "c2"]) == []  # leased: in flight
    await bus.confirm_delivery(user, "1-0", ["c1"])
    await bus.release_delivery(user, "1-0", ["c2"])  # c2's post failed

    assert await bus.claim_delivery(user, "1-0", ["c1", "c2"]) == ["c2"]


async def test_a_page_s_delivery_records_are_bounded(client: aioredis.Redis) -> None:
    bus = RedisBus(client, RedisKeyBounds(transcript_stream_maxlen=10))
    user = uid()
    for n in range(1, 51):
        await bus.claim_delivery(user, f"{n}-0", ["c1"])
        await bus.confirm_delivery(user, f"{n}-0", ["c1"])

    assert await client.zcard(RedisBus._delivered_key(user, "c1")) == 20  # twice the stream


async def test_a_user_s_pages_are_capped_and_the_oldest_is_dropped(client: aioredis.Redis) -> None:
    bus = RedisBus(client, RedisKeyBounds(max_connections_per_user=3))
    user = uid()
    for n in range(5):
        await bus.register(user, f"{user}-c{n}")
        await asyncio.sleep(0.002)  # registration times are Redis's milliseconds

    assert await bus.connections(user) == [f"{user}-c{n}" for n in (2, 3, 4)]
    assert await bus.owner(f"{user}-c0") is None


async def test_a_user_s_utterances_are_capped_and_repeats_kept_for_a_window(
    client: aioredis.Redis,
) -> None:
    bus = RedisBus(client, RedisKeyBounds(max_utterances_per_user=3, utterance_repeat_window=2))
    user = uid()
    for n in range(5):
        await bus.append(user, post(0, utterance=f"utt{n}"))
    kept = [k async for k in client.scan_iter(match=f"vb:utt:{{{user}}}:*")]
    assert sorted(k.decode().rsplit(":", 1)[1] for k in kept) == ["utt2", "utt3", "utt4"]

    first = await bus.append(user, post(1, utterance="long"))
    for seq in range(2, 6):
        await bus.append(user, post(seq, utterance="long"))
    assert (await bus.append(user, post(5, utterance="long"))).status == "repeat"
    assert (await bus.append(user, post(1, utterance="long"))) == AppendResult("stale", None)
    assert first.status == "new"
    fields = await client.hkeys(RedisBus._utterance_key(user, "long"))
    assert len(fields) == 2 + 2  # last, win and the window's two seqs


async def test_events_after_reads_at_most_the_limit(bus: RedisBus) -> None:
    user = uid()
    ids = [(await bus.append(user, post(i))).event_id for i in range(10)]

    assert [e.id for e in await bus.events_after(user, "0-0", limit=3)] == ids[:3]
    assert [e.id for e in await bus.events_after(user, "not-an-id", limit=3)] == ids[-3:]
    assert [e.id for e in await bus.events_after(user, str(ids[4]), limit=3)] == ids[5:8]


async def test_a_released_turn_can_be_claimed_again(bus: RedisBus) -> None:
    user = uid()
    assert await bus.claim_turn(user, "t1")
    await bus.release_turn(user, "t1")
    assert await bus.claim_turn(user, "t1")
    assert not await bus.claim_turn(user, "t1")
