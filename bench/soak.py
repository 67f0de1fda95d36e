"""Soak: many users' devices and pages on the relay for a bounded time; Redis and process memory
must stay flat, and no transcript may be lost or duplicated.

Runs the real services (TranscriptRelay, RedisBus, turn claims and cancel flags, built by
``voicebot.wiring`` exactly as a function builds them) against an embedded Redis, in one
process, with the pages in memory: each user has a device that posts utterances (partials, then
a final) at a steady pace, and pages that go away and come back (unregister, register a new
connection, ``resume`` from the last event they got), as browsers on flaky networks do. Now and
then one page's posts are throttled for a moment: the relay retries, gives up, closes that
connection, and the page reconnects and resumes. At the end every page resumes once more, and
each page's events are matched against what its user's device published.

    python -m bench.soak                      # 50 users, 10 minutes
    python -m bench.soak --minutes 1          # the quick proof that it works
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from local.redis_server import EmbeddedRedis
from voicebot import wiring
from voicebot.contract.settings import RedisSettings
from voicebot.contract.wire import TranscriptPost
from voicebot.errors import ApiError, ServiceUnavailable

from ._cli import add_copy_to_docs, bench_parser
from ._stats import machine, publish, table

SAMPLE_SECONDS = 10.0
SAMPLE_COLUMNS = (
    "t_s",
    "used_memory_mib",
    "keys",
    "redis_rss_mib",
    "process_rss_mib",
    "bookkeeping_mib",
    "services_rss_mib",
)


def rss_mib(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Page:
    """One browser page of a user: its current connection and every event id it received."""

    user: str
    name: str
    connection: str = ""
    received: list[str] = field(default_factory=list)
    last_id: str = "0"
    reconnects: int = 0
    closed_by_server: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def got(self, event_id: str) -> None:
        self.received.append(event_id)
        if _order(event_id) > _order(self.last_id):
            self.last_id = event_id


def _order(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    return (int(ms), int(seq or 0))


class SoakPoster:
    """The pages' side of ``@connections``, in memory, with throttling on demand."""

    def __init__(self) -> None:
        self.pages: dict[str, Page] = {}  # open connection -> its page
        self.throttled: dict[str, float] = {}  # connection -> until (monotonic)
        self.posts = 0
        self.failed_posts = 0

    async def post(self, connection_id: str, data: bytes) -> bool:
        self.posts += 1
        if self.throttled.get(connection_id, 0.0) > time.monotonic():
            self.failed_posts += 1
            raise RuntimeError("LimitExceededException")
        page = self.pages.get(connection_id)
        if page is None:
            return False  # gone, as a 410 says
        event = json.loads(data)
        if event.get("type") == "transcript":
            page.got(event["id"])
        return True

    async def close(self, connection_id: str) -> None:
        page = self.pages.pop(connection_id, None)
        if page is not None:
            page.closed_by_server += 1
            page.wake.set()  # the page sees its socket close and reconnects


@dataclass
class Counts:
    posts: int = 0
    published: int = 0
    rate_limited: int = 0
    unavailable: int = 0
    turns: int = 0
    throttle_windows: int = 0


async def device(
    user: str, published: list[str], counts: Counts, stop: float, interval: float
) -> None:
    """Utterances of 3-6 partials and a final, one post per ``interval``, as the interpreter."""
    relay = wiring.transcript_relay()
    claims, cancels = wiring.turn_claims(), wiring.cancel_flags()
    gate = wiring.fairness()
    n = 0
    await asyncio.sleep(random.random() * interval)
    while time.monotonic() < stop:
        n += 1
        words = random.randint(3, 6)
        for seq in range(words + 1):
            final = seq == words
            post = TranscriptPost(
                utteranceId=f"utt{n}", seq=seq, text="안녕하세요 " * (seq + 1), final=final
            )
            counts.posts += 1
            try:
                async with gate.admit(f"u:{user}"):
                    result = await relay.publish(user, post)
            except ApiError as exc:
                counts.rate_limited += exc.code == "rate_limited"
                continue
            except ServiceUnavailable:
                counts.unavailable += 1
                continue
            if result.event_id and result.event_id not in published[-1:]:
                published.append(result.event_id)
            if final and result.event_id:  # the page asks the answer: a turn claim
                counts.turns += 1
                await claims.claim_turn(user, f"v-{result.event_id}")
                if random.random() < 0.2:  # sometimes the person interrupts
                    await cancels.request_cancel(user, f"v-{result.event_id}", 1)
            await asyncio.sleep(interval)


async def reconnect(page: Page, poster: SoakPoster, offline: float) -> None:
    registry, relay = wiring.connection_registry(), wiring.transcript_relay()
    if page.connection:
        poster.pages.pop(page.connection, None)
        await registry.unregister(page.connection)  # $disconnect
    await asyncio.sleep(offline)
    page.reconnects += 1
    page.connection = f"{page.name}-{page.reconnects}"
    await registry.register(page.user, page.connection)  # $connect
    poster.pages[page.connection] = page
    await relay.resume(page.user, page.connection, page.last_id)


async def browser(page: Page, poster: SoakPoster, stop: float, mean_online: float) -> None:
    """Stays online for a while, goes away briefly, comes back; reconnects when closed."""
    while time.monotonic() < stop:
        page.wake.clear()
        online = random.expovariate(1 / mean_online)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(page.wake.wait(), min(online, max(0.0, stop - time.monotonic())))
        if time.monotonic() >= stop:
            return
        with_retry = 0
        while True:
            try:
                await reconnect(page, poster, random.uniform(0.2, 2.0))
                break
            except ServiceUnavailable:
                with_retry += 1
                await asyncio.sleep(min(5.0, 0.5 * with_retry))


async def throttler(pages: list[Page], poster: SoakPoster, counts: Counts, stop: float) -> None:
    """Every few seconds, one page's connection is throttled for a second (all posts fail)."""
    while time.monotonic() < stop:
        await asyncio.sleep(5.0)
        page = random.choice(pages)
        if page.connection:
            poster.throttled[page.connection] = time.monotonic() + 1.0
            counts.throttle_windows += 1


async def redis_memory(client: aioredis.Redis) -> dict[str, float]:
    info = await client.info("memory")
    return {
        "used_memory_mib": info["used_memory"] / 2**20,
        "keys": float(await client.dbsize()),
    }


def bookkeeping_mib(lists: list[list[str]]) -> float:
    """What the benchmark itself holds to count lost and duplicated events at the end: every id
    each device published and each page received (each object counted once). It grows with every
    event by design, so it is reported, and taken out of the process's RSS, on its own."""
    seen: set[int] = set()
    total = 0
    for ids in lists:
        total += sys.getsizeof(ids)
        for item in ids:
            if id(item) not in seen:
                seen.add(id(item))
                total += sys.getsizeof(item)
    return total / 2**20


async def sample(
    client: aioredis.Redis, redis_pid: int, began: float, lists: list[list[str]]
) -> dict[str, float]:
    process = rss_mib()
    kept = bookkeeping_mib(lists)
    return {
        "t_s": time.monotonic() - began,
        **(await redis_memory(client)),
        "redis_rss_mib": rss_mib(redis_pid),
        "process_rss_mib": process,
        "bookkeeping_mib": kept,
        # The services' share of the process: its RSS less the benchmark's own records.
        "services_rss_mib": process - kept,
    }


async def soak(args: argparse.Namespace, server: EmbeddedRedis) -> dict[str, Any]:
    env = RedisSettings.environment(
        redis_url=server.url, transcript_stream_maxlen=args.stream_maxlen
    )
    wiring.configure({**env, "PREEMPTIVE_ANSWERS": "false"})
    poster = SoakPoster()
    wiring.use_connection_poster(poster)
    direct = aioredis.from_url(server.url)
    assert server._proc is not None
    redis_pid = server._proc.pid

    users = [f"u_soak{n:04d}" for n in range(args.users)]
    pages = [Page(u, f"{u}-p{i}") for u in users for i in range(args.pages)]
    for page in pages:
        await reconnect(page, poster, 0.0)
    began = time.monotonic()
    stop = began + args.minutes * 60
    published: dict[str, list[str]] = {u: [] for u in users}
    lists = [p.received for p in pages] + list(published.values())
    before = await sample(direct, redis_pid, began, lists)
    samples = [before]
    counts = Counts()

    async def sampler() -> None:
        while time.monotonic() < stop:
            await asyncio.sleep(min(SAMPLE_SECONDS, max(0.0, stop - time.monotonic())))
            samples.append(await sample(direct, redis_pid, began, lists))

    interval = args.post_interval_ms / 1000
    await asyncio.gather(
        *(device(u, published[u], counts, stop, interval) for u in users),
        *(browser(p, poster, stop, args.mean_online_s) for p in pages),
        throttler(pages, poster, counts, stop),
        sampler(),
    )
    await asyncio.sleep(1.0)  # posts in flight land
    after = await sample(direct, redis_pid, began, lists)
    for page in pages:  # the final check: every page comes back once more
        await reconnect(page, poster, 0.0)

    by_user = {u: set(ids) for u, ids in published.items()}
    lost = duplicated = expected = received = 0
    for page in pages:
        seen = Counter(page.received)
        expected += len(by_user[page.user])
        received += len(seen)
        lost += len(by_user[page.user] - set(seen))
        duplicated += sum(n - 1 for n in seen.values())
    await direct.aclose()
    wiring.use_connection_poster(None)
    return {
        "benchmark": "soak",
        "machine": machine(),
        "users": args.users,
        "pages": len(pages),
        "duration_minutes": args.minutes,
        "post_interval_ms": args.post_interval_ms,
        "stream_maxlen": args.stream_maxlen,
        "posts": counts.posts,
        "events_sent": sum(len(v) for v in published.values()),
        "deliveries_expected": expected,
        "events_received": received,
        "lost": lost,
        "duplicated": duplicated,
        "rate_limited": counts.rate_limited,
        "service_unavailable": counts.unavailable,
        "turn_claims": counts.turns,
        "reconnects": sum(p.reconnects for p in pages) - 2 * len(pages),
        "closed_by_server": sum(p.closed_by_server for p in pages),
        "throttle_windows": counts.throttle_windows,
        "failed_posts": poster.failed_posts,
        "before": before,
        "after": after,
        "samples": samples,
    }


def report(result: dict[str, Any]) -> str:
    rows = [
        [name, result["before"][key], result["after"][key]]
        for name, key in (
            ("Redis used_memory (MiB)", "used_memory_mib"),
            ("Redis keys", "keys"),
            ("Redis process RSS (MiB)", "redis_rss_mib"),
            ("soak process RSS (MiB)", "process_rss_mib"),
            ("its records of every event (MiB)", "bookkeeping_mib"),
            ("services' share: RSS - records (MiB)", "services_rss_mib"),
        )
    ]
    lines = [
        f"{result['users']} users, {result['pages']} pages, {result['duration_minutes']} min: "
        f"{result['events_sent']} events sent, {result['events_received']} deliveries received "
        f"of {result['deliveries_expected']} expected; lost {result['lost']}, duplicated "
        f"{result['duplicated']}; {result['reconnects']} reconnects "
        f"({result['closed_by_server']} closed by the server after failed posts)",
        table(["", "before", "after"], rows),
        table(
            [
                "t (s)",
                "used_memory (MiB)",
                "keys",
                "Redis RSS (MiB)",
                "process RSS (MiB)",
                "records (MiB)",
                "services (MiB)",
            ],
            [
                [
                    s["t_s"],
                    s["used_memory_mib"],
                    s["keys"],
                    s["redis_rss_mib"],
                    s["process_rss_mib"],
                    s["bookkeeping_mib"],
                    s["services_rss_mib"],
                ]
                for s in result["samples"]
            ],
        ),
    ]
    return "\n\n".join(lines)


def main() -> None:
    parser = bench_parser("bench.soak", __doc__)
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the load runs")
    parser.add_argument("--users", type=int, default=50, help="simulated users (one device each)")
    parser.add_argument("--pages", type=int, default=2, help="open pages per user")
    parser.add_argument("--post-interval-ms", type=int, default=250,
                        help="each device's pause between posts")  # fmt: skip
    parser.add_argument("--mean-online-s", type=float, default=30.0,
                        help="a page's mean time between reconnects")  # fmt: skip
    parser.add_argument("--stream-maxlen", type=int, default=1000,
                        help="TRANSCRIPT_STREAM_MAXLEN (the deployed default)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="soak.json", help="file name under bench/results/")
    add_copy_to_docs(parser)
    args = parser.parse_args()
    random.seed(args.seed)
    # Throttled posts are the point of the exercise; their warnings would drown the report.
    logging.getLogger("voicebot").setLevel(logging.ERROR)
    with EmbeddedRedis() as server:
        result = asyncio.run(soak(args, server))
    print(report(result))
    publish(args.out, result, args.copy_to_docs)
    if result["lost"] or result["duplicated"]:
        raise SystemExit(1)


if __name__ == "__main__":
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    main()
