"""Soak: many users' devices and pages on the relay for a bounded time; Redis and the services'
memory must stay flat, and no transcript may be lost or duplicated.

The real services (TranscriptRelay, RedisBus, turn claims and cancel flags, built by
``voicebot.wiring`` exactly as a function builds them) run in a process of their own
(``bench._soak_services``) against an embedded Redis; this process is the load generator, with
the devices and the pages, and talks to it over a Unix socket. Each user has a device that posts
utterances (partials, then a final) at a steady pace, and pages that go away and come back
(unregister, register a new connection, ``resume`` from the last event they got), as browsers on
flaky networks do. Now and then one page's posts are throttled for a moment: the relay retries,
gives up, closes that connection, and the page reconnects and resumes. At the end every page
resumes once more, and each page's events are matched against what its user's device published,
by counts kept in bounded memory (``bench._soak_count``). Every 10 s Redis (used_memory, keys,
RSS), the services process's RSS and this process's RSS are sampled; memory is called flat when,
over the second half of the run, its least-squares slope and its max - min are within bounds.

    python -m bench.soak                      # 50 users, 10 minutes
    python -m bench.soak --minutes 1          # the quick proof that it works
    python -m bench.soak --tracemalloc 300,600   # where the services allocate (not a clean RSS)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from local.redis_server import EmbeddedRedis

from ._cli import add_copy_to_docs, bench_parser
from ._soak_count import DeliveryCounter, PublishedLog
from ._soak_services import rss_mib
from ._stats import RESULTS, machine, publish, table

SAMPLE_SECONDS = 10.0
PING_SECONDS = 30.0  # web/js/connection.js PING_MS
SAMPLE_COLUMNS = (
    "t_s",
    "used_memory_mib",
    "keys",
    "redis_rss_mib",
    "services_rss_mib",
    "loadgen_rss_mib",
    "counted_numbers",
)
# What is judged flat (the rest is reported): the services' RSS and Redis's data.
JUDGED = ("services_rss_mib", "used_memory_mib")


class Refused(Exception):
    """The services answered an error code (rate_limited, service_unavailable, ...)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Page:
    """One browser page of a user: its current connection and the counts of what it got."""

    user: str
    name: str
    counter: DeliveryCounter
    connection: str = ""
    last_id: str = "0"  # the highest stream id it got: where it resumes from
    reconnects: int = 0
    closed_by_server: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def got(self, event: dict[str, Any]) -> None:
        self.counter.got(int(event["text"].split(" ", 1)[0].lstrip("#")))
        if _order(event["id"]) > _order(self.last_id):
            self.last_id = event["id"]


def _order(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    return (int(ms), int(seq or 0))


class Pages:
    """The pages' side of ``@connections``: answers each post the services send, throttling on
    demand, and sees the connections they close. A connection is open once its ``$connect``
    (the registration) has returned; a post before that is answered gone, as API Gateway does."""

    def __init__(self) -> None:
        self.open: dict[str, Page] = {}  # open connection -> its page
        self.connecting: set[str] = set()  # registered, $connect not yet returned
        self.throttled: dict[str, float] = {}  # connection -> until (monotonic)
        self.posts = 0
        self.failed_posts = 0
        self.gone_while_connecting = 0
        self.errors: Counter[str] = Counter()  # error events the pages got, by code

    def post(self, connection_id: str, data: str) -> bool | str:
        self.posts += 1
        until = self.throttled.get(connection_id)
        if until is not None:
            if until > time.monotonic():
                self.failed_posts += 1
                return "throttled"
            del self.throttled[connection_id]
        page = self.open.get(connection_id)
        if page is None:
            self.gone_while_connecting += connection_id in self.connecting
            return False  # gone, as a 410 says
        event = json.loads(data)
        if event.get("type") == "transcript":
            page.got(event)
        elif event.get("type") == "error":
            self.errors[str(event.get("code"))] += 1
        return True

    def close(self, connection_id: str) -> None:
        page = self.open.pop(connection_id, None)
        self.throttled.pop(connection_id, None)
        if page is not None:
            page.closed_by_server += 1
            page.wake.set()  # the page sees its socket close and reconnects


class Services:
    """The services process and the socket to it."""

    def __init__(self, pages: Pages) -> None:
        self.pages = pages
        self.proc: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._log_task: asyncio.Task[None] | None = None
        self.log_lines = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._calls: dict[int, dict[str, Any]] = {}  # what each unanswered call was
        self._next = 0
        self._dir = tempfile.mkdtemp(prefix="voicebot-soak-")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self, redis_url: str, stream_maxlen: int, tracemalloc_frames: int) -> None:
        path = os.path.join(self._dir, "services.sock")
        extra = ["--tracemalloc", str(tracemalloc_frames)] if tracemalloc_frames else []
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench._soak_services", path, redis_url, str(stream_maxlen),
            *extra, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        if line.strip() != b"ready":
            raise RuntimeError(f"the services process did not start: {line!r}")
        # The functions' own log lines (Powertools writes to stdout) go on being read, or a
        # full pipe would stop the services; they are kept in bench/results/soak-services.log.
        self._log_task = asyncio.create_task(self._keep_log(self.proc.stdout))
        reader, self._writer = await asyncio.open_unix_connection(path, limit=2**20)
        self._reader_task = asyncio.create_task(self._read(reader))

    async def _keep_log(self, stdout: asyncio.StreamReader) -> None:
        RESULTS.mkdir(parents=True, exist_ok=True)
        with (RESULTS / "soak-services.log").open("wb") as log:
            while line := await stdout.readline():
                self.log_lines += 1
                log.write(line)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            await self._dispatch(reader)
        except BaseException as exc:
            # Nothing would answer the calls in flight: fail them, so the run stops and says why.
            for answer in self._pending.values():
                if not answer.done():
                    answer.set_exception(RuntimeError(f"the socket reader failed: {exc!r}"))
            raise

    async def _dispatch(self, reader: asyncio.StreamReader) -> None:
        while line := await reader.readline():
            message = json.loads(line)
            if "i" in message:
                answer = self._pending.pop(message["i"], None)
                if answer is not None and not answer.done():
                    answer.set_result(message)
            elif "p" in message:
                self._send({"p": message["p"], "r": self.pages.post(message["c"], message["d"])})
            elif "x" in message:
                self.pages.close(message["x"])
        for answer in self._pending.values():
            if not answer.done():
                answer.set_exception(RuntimeError("the services process went away"))

    def unanswered(self) -> list[dict[str, Any]]:
        return list(self._calls.values())

    def _send(self, message: dict[str, Any]) -> None:
        assert self._writer is not None
        self._writer.write(json.dumps(message, ensure_ascii=False).encode() + b"\n")

    async def call(self, op: str, **args: Any) -> Any:
        self._next += 1
        n = self._next
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[n] = answer
        self._calls[n] = {"op": op, **args, "at": time.monotonic()}
        self._send({"i": n, "op": op, **args})
        try:
            message = await answer
        finally:
            del self._calls[n]
        if "err" in message:
            raise Refused(message["err"])
        return message["ok"]

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self.proc is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), 10)
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()
        for task in (self._reader_task, self._log_task):
            if task is not None:
                task.cancel()
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(self._dir, "services.sock"))
            os.rmdir(self._dir)


@dataclass
class Counts:
    posts: int = 0
    published: int = 0
    rate_limited: int = 0
    unavailable: int = 0
    other_errors: int = 0
    turns: int = 0
    throttle_windows: int = 0


async def device(
    user: str,
    services: Services,
    published: PublishedLog,
    counts: Counts,
    stop: float,
    interval: float,
) -> None:
    """Utterances of 3-6 partials and a final, one post every ``interval``, as the interpreter.
    Each post is numbered (at the head of its text); the numbers stored go into ``published``."""
    n = number = 0
    last_event = ""
    # A fixed pace (the offered load does not fall when the services slow down).
    next_post = time.monotonic() + random.random() * interval
    await asyncio.sleep(next_post - time.monotonic())
    while time.monotonic() < stop:
        n += 1
        words = random.randint(3, 6)
        for seq in range(words + 1):
            final = seq == words
            number += 1
            post = {
                "utteranceId": f"utt{n}",
                "seq": seq,
                "text": f"#{number} " + "안녕하세요 " * (seq + 1),
                "final": final,
            }
            counts.posts += 1
            try:
                result = await services.call("publish", user=user, post=post)
            except Refused as exc:
                counts.rate_limited += exc.code == "rate_limited"
                counts.unavailable += exc.code == "service_unavailable"
                counts.other_errors += exc.code not in ("rate_limited", "service_unavailable")
                continue
            event_id = result["event_id"]
            if event_id and event_id != last_event:
                published.add(number)
                last_event = event_id
            if final and event_id:  # the page asks the answer: a turn claim
                counts.turns += 1
                await services.call("claim", user=user, turn=f"v-{event_id}")
                if random.random() < 0.2:  # sometimes the person interrupts
                    await services.call("cancel", user=user, turn=f"v-{event_id}")
            next_post += interval
            await asyncio.sleep(max(0.0, next_post - time.monotonic()))


async def reconnect(page: Page, services: Services, offline: float) -> None:
    pages = services.pages
    if page.connection:
        pages.open.pop(page.connection, None)
        pages.throttled.pop(page.connection, None)
        await services.call("unregister", c=page.connection)  # $disconnect
    await asyncio.sleep(offline)
    page.reconnects += 1
    page.connection = connection = f"{page.name}-{page.reconnects}"
    pages.connecting.add(connection)
    try:
        await services.call("register", user=page.user, c=connection)  # $connect
    finally:
        pages.connecting.discard(connection)
    pages.open[connection] = page
    await message(services, page, {"action": "resume", "after": page.last_id})


async def message(services: Services, page: Page, action: dict[str, Any]) -> None:
    """What the page sends on its socket (the ws_messages route: resume, ping)."""
    await services.call("message", c=page.connection, body=json.dumps(action))


async def browser(page: Page, services: Services, stop: float, mean_online: float) -> None:
    """Stays online for a while, goes away briefly, comes back; reconnects when closed."""
    while time.monotonic() < stop:
        page.wake.clear()
        leave = min(stop, time.monotonic() + random.expovariate(1 / mean_online))
        next_ping = time.monotonic() + PING_SECONDS
        while not page.wake.is_set() and time.monotonic() < leave:
            with contextlib.suppress(TimeoutError):
                wait = max(0.0, min(leave, next_ping) - time.monotonic())
                await asyncio.wait_for(page.wake.wait(), wait)
            if not page.wake.is_set() and time.monotonic() >= next_ping:
                # As web/js/connection.js: a connection the registry lost is closed on the ping.
                # (A ping whose pong is throttled fails in the route; the page does not wait.)
                with contextlib.suppress(Refused):
                    await message(services, page, {"action": "ping"})
                next_ping += PING_SECONDS
        if time.monotonic() >= stop:
            return
        with_retry = 0
        while True:
            try:
                await reconnect(page, services, random.uniform(0.2, 2.0))
                break
            except Refused:
                with_retry += 1
                await asyncio.sleep(min(5.0, 0.5 * with_retry))


async def throttler(pages: list[Page], services: Services, counts: Counts, stop: float) -> None:
    """Every few seconds, one page's connection is throttled for a second (all posts fail)."""
    while time.monotonic() < stop:
        await asyncio.sleep(5.0)
        page = random.choice(pages)
        if page.connection:
            services.pages.throttled[page.connection] = time.monotonic() + 1.0
            counts.throttle_windows += 1


async def redis_memory(client: aioredis.Redis) -> dict[str, float]:
    info = await client.info("memory")
    return {
        "used_memory_mib": info["used_memory"] / 2**20,
        "keys": float(await client.dbsize()),
        # RSS follows the peak of used_memory (and the allocator's fragmentation), not its level.
        "used_memory_peak_mib": info["used_memory_peak"] / 2**20,
        "mem_fragmentation_ratio": float(info["mem_fragmentation_ratio"]),
    }


async def sample(
    client: aioredis.Redis, redis_pid: int, services: Services, began: float, pages: list[Page]
) -> dict[str, float]:
    return {
        "t_s": time.monotonic() - began,
        **(await redis_memory(client)),
        "redis_rss_mib": rss_mib(redis_pid),
        "services_rss_mib": rss_mib(services.pid),
        "loadgen_rss_mib": rss_mib(),
        # What the counts hold (window + missing numbers, all pages): bounded by design.
        "counted_numbers": float(sum(p.counter.size() for p in pages)),
    }


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU time of a process so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def trend(samples: list[dict[str, float]], key: str, since_s: float) -> dict[str, float]:
    """Least-squares slope (per minute) and max - min of ``key`` over the samples from
    ``since_s`` on."""
    points = [(s["t_s"] / 60, s[key]) for s in samples if s["t_s"] >= since_s]
    if len(points) < 2:
        return {"slope_per_min": float("nan"), "range": float("nan"), "samples": len(points)}
    mean_t = sum(t for t, _ in points) / len(points)
    mean_v = sum(v for _, v in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    slope = sum((t - mean_t) * (v - mean_v) for t, v in points) / spread
    values = [v for _, v in points]
    return {
        "slope_per_min": slope,
        "range": max(values) - min(values),
        "first": values[0],
        "last": values[-1],
        "samples": len(points),
    }


def flatness(
    samples: list[dict[str, float]], since_s: float, max_slope: float, max_range: float
) -> dict[str, Any]:
    trends = {
        key: trend(samples, key, since_s)
        for key in ("services_rss_mib", "used_memory_mib", "redis_rss_mib", "loadgen_rss_mib")
    }
    for t in trends.values():
        t["flat"] = abs(t["slope_per_min"]) <= max_slope and t["range"] <= max_range
    return {
        "criterion": (
            f"over the samples from t = {since_s:.0f} s on (the second half): |least-squares "
            f"slope| <= {max_slope} MiB/min and max - min <= {max_range} MiB; judged on "
            + " and ".join(JUDGED)
        ),
        "since_s": since_s,
        "max_slope_mib_per_min": max_slope,
        "max_range_mib": max_range,
        "trends": trends,
        "flat": all(trends[key]["flat"] for key in JUDGED),
    }


def _short(filename: str) -> str:
    for marker in ("site-packages/", f"python{sys.version_info[0]}.{sys.version_info[1]}/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return os.path.relpath(filename, Path(__file__).resolve().parent.parent)


def allocation_diff(first: str, second: str, top: int = 15) -> list[dict[str, Any]]:
    """The services' allocation sites that grew most between two tracemalloc snapshots."""
    old, new = tracemalloc.Snapshot.load(first), tracemalloc.Snapshot.load(second)
    rows = []
    for stat in new.compare_to(old, "traceback")[:top]:
        frames = [f"{_short(f.filename)}:{f.lineno}" for f in stat.traceback]
        rows.append(
            {
                "size_diff_kib": stat.size_diff / 1024,
                "size_kib": stat.size / 1024,
                "count_diff": stat.count_diff,
                "frames": frames,
            }
        )
    return rows


async def soak(args: argparse.Namespace, server: EmbeddedRedis) -> dict[str, Any]:
    pages_side = Pages()
    services = Services(pages_side)
    await services.start(server.url, args.stream_maxlen, args.tracemalloc_frames)
    direct = aioredis.from_url(server.url)
    assert server._proc is not None
    redis_pid = server._proc.pid

    users = [f"u_soak{n:04d}" for n in range(args.users)]
    published = {u: PublishedLog() for u in users}
    pages = [
        Page(u, f"{u}-p{i}", DeliveryCounter(published[u], args.window))
        for u in users
        for i in range(args.pages)
    ]
    for page in pages:
        await reconnect(page, services, 0.0)
    began = time.monotonic()
    stop = began + args.minutes * 60
    before = await sample(direct, redis_pid, services, began, pages)
    samples = [before]
    counts = Counts()
    snapshots: list[tuple[float, str, float]] = []
    snapshot_at = sorted(args.tracemalloc_at)

    async def sampler() -> None:
        while time.monotonic() < stop:
            await asyncio.sleep(min(SAMPLE_SECONDS, max(0.0, stop - time.monotonic())))
            samples.append(await sample(direct, redis_pid, services, began, pages))
            while snapshot_at and time.monotonic() - began >= snapshot_at[0] - 1:
                path = os.path.join(tempfile.gettempdir(), f"soak-{os.getpid()}-{snapshot_at[0]}")
                rss = await services.call("snapshot", path=path)
                snapshots.append((snapshot_at.pop(0), path, rss))

    async def watchdog() -> None:
        """Says what is still waiting if the load has not ended a minute after it should."""
        await asyncio.sleep(max(0.0, stop - time.monotonic()) + 60)
        print(f"still running 60 s after the end: {services.unanswered()}", file=sys.stderr)
        for task in asyncio.all_tasks():
            task.print_stack(limit=6, file=sys.stderr)

    interval = args.post_interval_ms / 1000
    guard = asyncio.create_task(watchdog())
    await asyncio.gather(
        *(device(u, services, published[u], counts, stop, interval) for u in users),
        *(browser(p, services, stop, args.mean_online_s) for p in pages),
        throttler(pages, services, counts, stop),
        sampler(),
    )
    guard.cancel()
    await asyncio.sleep(1.0)  # posts in flight land
    after = await sample(direct, redis_pid, services, began, pages)
    for page in pages:  # the final check: every page comes back once more
        await reconnect(page, services, 0.0)
    trim = await services.call("trim")
    cpu = {
        "services": cpu_seconds(services.pid),
        "load_generator": cpu_seconds(),
        "redis": cpu_seconds(redis_pid),
    }
    lost = sum(p.counter.finish() for p in pages)
    expected = sum(published[p.user].count for p in pages)
    await direct.aclose()
    await services.stop()
    result: dict[str, Any] = {
        "benchmark": "soak",
        "machine": machine(),
        "users": args.users,
        "pages": len(pages),
        "duration_minutes": args.minutes,
        "post_interval_ms": args.post_interval_ms,
        "stream_maxlen": args.stream_maxlen,
        "counter_window": args.window,
        "tracemalloc_frames": args.tracemalloc_frames,
        "posts": counts.posts,
        "events_sent": sum(log.count for log in published.values()),
        "published_ranges": sum(log.ranges for log in published.values()),
        "deliveries_expected": expected,
        "events_received": sum(p.counter.received for p in pages),
        "lost": lost,
        "duplicated": sum(p.counter.duplicated for p in pages),
        "late": sum(p.counter.late for p in pages),
        "unexpected": sum(p.counter.unexpected for p in pages),
        "rate_limited": counts.rate_limited,
        "service_unavailable": counts.unavailable,
        "other_errors": counts.other_errors,
        "turn_claims": counts.turns,
        "reconnects": sum(p.reconnects for p in pages) - 2 * len(pages),
        "closed_by_server": sum(p.closed_by_server for p in pages),
        "throttle_windows": counts.throttle_windows,
        "posts_to_pages": pages_side.posts,
        "failed_posts": pages_side.failed_posts,
        "gone_while_connecting": pages_side.gone_while_connecting,
        "services_log_lines": services.log_lines,
        "error_events": dict(pages_side.errors),
        "services_rss_after_malloc_trim_mib": trim,
        "cpu_seconds": cpu,
        "flatness": flatness(samples, args.minutes * 30, args.flat_slope, args.flat_range),
        "before": before,
        "after": after,
        "samples": samples,
    }
    if len(snapshots) >= 2:
        (t0, first, rss0), (t1, second, rss1) = snapshots[0], snapshots[-1]
        result["tracemalloc"] = {
            "between_s": [t0, t1],
            "services_rss_mib": [rss0, rss1],
            "top_growth": allocation_diff(first, second),
        }
    for _, path, _ in snapshots:
        with contextlib.suppress(OSError):
            os.unlink(path)
    return result


def report(result: dict[str, Any]) -> str:
    rows = [
        [name, result["before"][key], result["after"][key]]
        for name, key in (
            ("Redis used_memory (MiB)", "used_memory_mib"),
            ("Redis keys", "keys"),
            ("Redis process RSS (MiB)", "redis_rss_mib"),
            ("services process RSS (MiB)", "services_rss_mib"),
            ("load generator RSS (MiB)", "loadgen_rss_mib"),
            ("numbers the counts hold", "counted_numbers"),
        )
    ]
    flat = result["flatness"]
    trend_rows = [
        [key, f"{t['slope_per_min']:.3f}", f"{t['range']:.2f}", "yes" if t["flat"] else "NO"]
        for key, t in flat["trends"].items()
    ]
    trim = result["services_rss_after_malloc_trim_mib"]
    lines = [
        f"{result['users']} users, {result['pages']} pages, {result['duration_minutes']} min: "
        f"{result['events_sent']} events sent, {result['events_received']} deliveries received "
        f"of {result['deliveries_expected']} expected; lost {result['lost']}, duplicated "
        f"{result['duplicated']} (late {result['late']}, unexpected {result['unexpected']}); "
        f"{result['reconnects']} reconnects ({result['closed_by_server']} closed by the server "
        f"after failed posts); errors: {result['rate_limited']} rate_limited, "
        f"{result['service_unavailable']} service_unavailable, {result['other_errors']} other; "
        f"{result['gone_while_connecting']} posts before a $connect returned; error events to "
        f"the pages: {result['error_events']}",
        table(["", "before", "after"], rows),
        table(
            [
                "t (s)",
                "used_memory (MiB)",
                "keys",
                "Redis RSS (MiB)",
                "services RSS (MiB)",
                "load generator RSS (MiB)",
                "counted",
            ],
            [[s[key] for key in SAMPLE_COLUMNS] for s in result["samples"]],
        ),
        "Flat? " + flat["criterion"],
        table(["", "slope (MiB/min)", "max - min (MiB)", "flat"], trend_rows),
        f"memory {'FLAT' if flat['flat'] else 'NOT FLAT'}; the services' RSS at the end "
        f"{trim['before']:.1f} MiB, {trim['after']:.1f} MiB after malloc_trim(0); CPU seconds: "
        + ", ".join(f"{k} {v:.0f}" for k, v in result["cpu_seconds"].items()),
    ]
    if "tracemalloc" in result:
        tm = result["tracemalloc"]
        lines.append(
            f"tracemalloc, t = {tm['between_s'][0]} s -> {tm['between_s'][1]} s "
            f"(services RSS {tm['services_rss_mib'][0]:.1f} -> {tm['services_rss_mib'][1]:.1f} "
            "MiB), the sites that grew most:"
        )
        lines.append(
            table(
                ["KiB", "count", "where (innermost last)"],
                [
                    [r["size_diff_kib"], r["count_diff"], " < ".join(reversed(r["frames"][-4:]))]
                    for r in tm["top_growth"]
                ],
            )
        )
    return "\n\n".join(lines)


def _seconds(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x]


def main() -> None:
    parser = bench_parser("bench.soak", __doc__)
    for flag, kind, default, text in (
        ("--minutes", float, 10.0, "how long the load runs"),
        ("--users", int, 50, "simulated users (one device each)"),
        ("--pages", int, 2, "open pages per user"),
        ("--post-interval-ms", int, 250, "each device's pause between posts"),
        ("--mean-online-s", float, 30.0, "a page's mean time between reconnects"),
        ("--stream-maxlen", int, 1000, "TRANSCRIPT_STREAM_MAXLEN (the deployed default)"),
        ("--window", int, 250, "how far back (in posts) a page's event may still arrive"),
        ("--flat-slope", float, 0.1, "flat: |slope| over the second half at most, MiB/min"),
        ("--flat-range", float, 2.0, "flat: max - min over the second half at most this, MiB"),
    ):
        parser.add_argument(flag, type=kind, default=default, help=text)
    parser.add_argument("--tracemalloc", dest="tracemalloc_at", type=_seconds, default=[],
                        metavar="T1,T2", help="trace the services' allocations and compare "
                        "snapshots taken at these seconds (perturbs their RSS)")  # fmt: skip
    parser.add_argument("--tracemalloc-frames", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="soak.json", help="file name under bench/results/")
    add_copy_to_docs(parser)
    args = parser.parse_args()
    if args.tracemalloc_at:
        args.tracemalloc_frames = args.tracemalloc_frames or 8
        if args.copy_to_docs:
            parser.error("a traced run's RSS is not the services' own: do not copy it to docs")
    random.seed(args.seed)
    with EmbeddedRedis() as server:
        result = asyncio.run(soak(args, server))
    print(report(result))
    publish(args.out, result, args.copy_to_docs)
    if result["lost"] or result["duplicated"] or not result["flatness"]["flat"]:
        raise SystemExit(1)


if __name__ == "__main__":
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    main()
