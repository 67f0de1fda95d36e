"""Relay load: many open pages, devices posting transcripts at a set rate, nothing lost.

Starts the local stack, opens K page WebSockets (default 200) spread over U users, then for
each target rate runs one device per user that posts partial and final transcripts in order
(as the interpreter's publisher does), all devices together at the target aggregate rate, for
a bounded time. Every event each page receives is matched to its post: post → receipt latency,
throughput, and lost / duplicated deliveries. Everything runs on 127.0.0.1; the load generator
shares the machine's cores with the server, so the figures are a lower bound for the server.

    python -m bench.relay_load                         # 200 pages, 50 users, a rate sweep
    python -m bench.relay_load --rates 300 --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection

from ._cli import add_copy_to_docs, add_stack_options, bench_parser, refuse_profiled_copy
from ._client import Session, new_session, open_page
from ._profile import print_summary, record, summarize
from ._providers import Providers
from ._stack import RunningStack, cpu_seconds, local_stack, process_cpu_seconds
from ._stats import RESULTS, machine, percentile, publish, table

DRAIN_SECONDS = 10.0
UTTERANCE_TEXT = "내일 아침 부산 가는 기차 시간 좀 알려줘"


@dataclass
class Step:
    rate: float
    seconds: float
    sent: dict[tuple[str, int], float] = field(default_factory=dict)  # (utt, seq) → post time
    expected: dict[tuple[str, int], int] = field(default_factory=dict)  # → pages to reach
    reported: int = 0  # the sum of the 202s' "delivered": posts the relay says succeeded
    answers: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    first_send: float = 0.0
    last_response: float = 0.0


class Pages:
    """Every page's receipts, as ((utteranceId, seq), page) → receipt times."""

    def __init__(self) -> None:
        self.receipts: dict[tuple[tuple[str, int], int], list[float]] = defaultdict(list)
        self.arrivals = 0
        self._target = 0
        self._reached = asyncio.Event()

    async def wait_for(self, arrivals: int, timeout: float) -> None:
        """Until ``arrivals`` transcript events have arrived in all, or ``timeout`` s."""
        self._target, self._reached = arrivals, asyncio.Event()
        if self.arrivals < arrivals:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._reached.wait(), timeout)

    async def read(self, page: int, ws: ClientConnection) -> None:
        async for raw in ws:
            at = time.time() * 1000
            event = json.loads(raw)
            if event.get("type") == "transcript":
                self.receipts[((event["utteranceId"], event["seq"]), page)].append(at)
                self.arrivals += 1
                if self.arrivals >= self._target:
                    self._reached.set()


async def _device(
    http: httpx.AsyncClient,
    session: Session,
    user: int,
    step: Step,
    pages_of_user: int,
    interval: float,
    count: int,
    offset: float,
    partials: int,
) -> None:
    """Post ``count`` transcripts in order, one every ``interval`` s (later if a post is slow)."""
    headers = {"Authorization": f"Bearer {session.device_token}"}
    start = time.monotonic() + offset
    for n in range(count):
        utterance, seq = f"r{int(step.rate)}u{user}n{n // (partials + 1)}", n % (partials + 1)
        final = seq == partials
        text = UTTERANCE_TEXT[: max(2, (seq + 1) * len(UTTERANCE_TEXT) // (partials + 1))]
        delay = start + n * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        sent = time.time() * 1000
        step.first_send = min(step.first_send or sent, sent)
        response = await http.post(
            "/api/transcripts",
            json={"utteranceId": utterance, "seq": seq, "text": text, "final": final},
            headers=headers,
        )
        step.last_response = max(step.last_response, time.time() * 1000)
        step.statuses[response.status_code] += 1
        body = response.json() if response.status_code == 202 else {}
        if body.get("id"):
            step.reported += int(body.get("delivered", 0))
            step.answers[(utterance, seq)] = body
            step.sent[(utterance, seq)] = sent
            step.expected[(utterance, seq)] = pages_of_user


async def _run_step(
    http: httpx.AsyncClient,
    sessions: list[Session],
    pages_by_user: list[list[int]],
    pages: Pages,
    rate: float,
    seconds: float,
    partials: int,
    server_pid: int,
) -> dict[str, Any]:
    step = Step(rate=rate, seconds=seconds)
    users = len(sessions)
    per_device = rate / users
    count = max(1, round(per_device * seconds))
    cpu_server, cpu_client = cpu_seconds(server_pid), _own_cpu()
    cpu_stack = process_cpu_seconds(server_pid)
    arrivals_before = pages.arrivals
    started = time.monotonic()
    await asyncio.gather(*(
        _device(http, s, u, step, len(pages_by_user[u]), 1 / per_device, count,
                u / rate, partials)  # staggered so devices do not post in lockstep
        for u, s in enumerate(sessions)
    ))  # fmt: skip
    posting = time.monotonic() - started
    # CPU over the posting window only: the drain after it is mostly waiting.
    cpu_server = (cpu_seconds(server_pid) - cpu_server) / posting
    cpu_stack = (process_cpu_seconds(server_pid) - cpu_stack) / posting
    cpu_client = (_own_cpu() - cpu_client) / posting
    await pages.wait_for(arrivals_before + sum(step.expected.values()), DRAIN_SECONDS)
    result = _step_result(step, pages, pages_by_user, posting, cpu_server, cpu_client)
    result["cpu_cores_stack_alone"] = cpu_stack
    return result


def _step_result(
    step: Step,
    pages: Pages,
    pages_by_user: list[list[int]],
    posting_seconds: float,
    cpu_server: float,
    cpu_client: float,
) -> dict[str, Any]:
    latencies: list[float] = []
    lost = duplicated = 0
    lost_posts: list[dict[str, Any]] = []
    receipts = pages.receipts
    for key, sent in step.sent.items():
        user = int(key[0].split("u", 1)[1].split("n", 1)[0])
        for page in pages_by_user[user]:
            times = receipts.get((key, page), [])
            if not times:
                lost += 1
                lost_posts.append({"utteranceId": key[0], "seq": key[1], "page": page,
                                   "answer": step.answers.get(key),
                                   "utterance": {s: a for (u, s), a in step.answers.items()
                                                 if u == key[0]}})  # fmt: skip
                continue
            duplicated += len(times) - 1
            latencies.append(times[0] - sent)
    accepted = len(step.sent)
    span = (step.last_response - step.first_send) / 1000 if step.sent else float("nan")
    return {
        "target_rate": step.rate,
        "posts": sum(step.statuses.values()),
        "accepted": accepted,
        "statuses": dict(step.statuses),
        "achieved_rate": accepted / span if span else float("nan"),
        "posting_seconds": posting_seconds,
        "deliveries": len(latencies),
        "delivered_reported_by_relay": step.reported,
        "deliveries_per_second": len(latencies) / span if span else float("nan"),
        "lost": lost,
        "duplicated": duplicated,
        "lost_examples": lost_posts[:20],
        "latency_ms": {
            "p50": percentile(latencies, 50),
            "p99": percentile(latencies, 99),
            "max": max(latencies) if latencies else float("nan"),
        },
        "cpu_cores_server": cpu_server,
        "cpu_cores_client": cpu_client,
    }


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def sustained(step: dict[str, Any]) -> bool:
    """Kept up: ≥ 95% of the target rate accepted, every event delivered exactly once."""
    return bool(
        step["achieved_rate"] >= 0.95 * step["target_rate"]
        and step["lost"] == 0
        and step["duplicated"] == 0
        and step["accepted"] == step["posts"]
    )


async def _connect(stack: RunningStack, http: httpx.AsyncClient, users: int, pages: int,
                   sink: Pages) -> tuple[list[Session], list[list[int]], list[Any]]:  # fmt: skip
    sessions = [await new_session(http) for _ in range(users)]
    pages_by_user: list[list[int]] = [[] for _ in range(users)]
    sockets: list[ClientConnection] = []
    for page in range(pages):
        user = page % users
        sockets.append(await open_page(stack.ws_url, sessions[user].token))
        pages_by_user[user].append(page)
    readers = [asyncio.create_task(sink.read(i, ws)) for i, ws in enumerate(sockets)]
    return sessions, pages_by_user, [*sockets, *readers]


async def run(args: argparse.Namespace) -> int:
    results: list[dict[str, Any]] = []
    profile: dict[str, Any] | None = None
    started = time.monotonic()
    with local_stack(
        Providers().environment(), RESULTS / "relay_load-stack.log", connections=args.connections
    ) as stack:
        # Idle connections expire before uvicorn's 5 s keep-alive closes them under a request.
        limits = httpx.Limits(max_connections=args.users + 10, keepalive_expiry=3)
        async with httpx.AsyncClient(base_url=stack.base_url, limits=limits, timeout=30) as http:
            sink = Pages()
            sessions, pages_by_user, held = await _connect(stack, http, args.users, args.pages,
                                                           sink)  # fmt: skip
            print(f"{args.pages} pages open for {args.users} users", flush=True)
            for rate in args.rates:
                sampling = rate == args.profile
                raw = RESULTS / f"relay_load-{rate:.0f}ps.pyspy.raw"
                with record(stack.pid, raw) if sampling else contextlib.nullcontext():
                    step = await _run_step(http, sessions, pages_by_user, sink, rate,
                                           args.seconds, args.partials, stack.pid)  # fmt: skip
                if sampling:
                    profile = summarize(raw)
                    step["profiled"] = True
                step["sustained"] = sustained(step)
                results.append(step)
                lat = step["latency_ms"]
                print(f"  {rate:.0f}/s: achieved {step['achieved_rate']:.0f}/s, p50 "
                      f"{lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms, lost {step['lost']}, "
                      f"dup {step['duplicated']}", flush=True)  # fmt: skip
                if not step["sustained"] and not args.keep_going:
                    break  # past the knee; higher rates only queue more
            for item in held:
                if isinstance(item, asyncio.Task):
                    item.cancel()
                else:
                    await item.close()
    best = max((s["target_rate"] for s in results if s["sustained"]), default=0)
    print(table(
        ["target/s", "achieved/s", "deliveries/s", "p50 ms", "p99 ms", "max ms", "lost", "dup",
         "server cores", "of which stack", "client cores", "sustained"],
        [[s["target_rate"], s["achieved_rate"], s["deliveries_per_second"],
          s["latency_ms"]["p50"], s["latency_ms"]["p99"], s["latency_ms"]["max"],
          s["lost"], s["duplicated"], f"{s['cpu_cores_server']:.2f}",
          f"{s['cpu_cores_stack_alone']:.2f}",
          f"{s['cpu_cores_client']:.2f}", "yes" if s["sustained"] else "no"]
         for s in results],
    ))  # fmt: skip
    each = args.pages / args.users
    print(f"highest sustained rate: {best:.0f} transcripts/s "
          f"({args.pages} pages, {args.users} users, {each:.0f} pages each)")  # fmt: skip
    result = {
        "benchmark": "relay_load",
        "machine": machine(),
        "connections": args.connections,
        "seconds": round(time.monotonic() - started, 1),
        "pages": args.pages,
        "users": args.users,
        "partials_per_utterance": args.partials,
        "step_seconds": args.seconds,
        "steps": results,
        "highest_sustained_rate": best,
        "note": "load generator and server share the same cores",
    }
    if profile is not None:
        print_summary(profile)
        result["profile"] = {"rate": args.profile, **profile}
    name = f"relay_load_{args.pages}p_{args.users}u{'-profiled' if profile else ''}.json"
    publish(name, result, args.copy_to_docs)
    return 0


def _rates(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x]


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser("bench.relay_load", __doc__)
    parser.add_argument("--pages", type=int, default=200, help="page WebSockets to keep open")
    parser.add_argument("--users", type=int, default=50, help="users the pages belong to; one "
                        "device each")  # fmt: skip
    parser.add_argument("--rates", type=_rates, default=[100, 200, 300, 400, 600],
                        help="aggregate transcripts/s to try, in order")  # fmt: skip
    parser.add_argument("--seconds", type=float, default=8.0, help="posting time per rate")
    parser.add_argument("--partials", type=int, default=4, help="partials before each final")
    parser.add_argument("--keep-going", action="store_true",
                        help="try every rate even after one is not sustained")  # fmt: skip
    add_copy_to_docs(parser)
    add_stack_options(parser, profile_type=float, profile_metavar="RATE",
                      profile_help="sample the stack process with py-spy during this rate (that "
                      "step is perturbed; the JSON is written as …-profiled.json)")  # fmt: skip
    args = parser.parse_args(argv)
    refuse_profiled_copy(parser, args)
    if args.pages > 2000 or args.seconds > 30 or max(args.rates) * args.seconds > 20_000:
        parser.error("keep runs bounded: ≤ 2000 pages, ≤ 30 s and ≤ 20,000 posts per rate")
    if args.users > args.pages:
        parser.error("--users must not exceed --pages")
    return asyncio.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
