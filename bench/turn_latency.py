"""Turn latency against the providers' floor and against the old strategy.

Starts the local stack with scripted providers, then for each concurrency level runs that many
simulated pages at once, each doing a bounded number of turns that alternate between this
project's streamed turn and the old strategy (whole answer, then ``POST /api/speech`` for the
first sentence). Prints a table, writes ``bench/results/turn_latency.json``, and the waterfall
of one typical 1-user turn (``turn_waterfall.json`` + ``.png``).

    python -m bench.turn_latency               # 1, 10 and 50 users; ~2 minutes
    python -m bench.turn_latency --levels 1 --turns 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import resource
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from . import _waterfall
from ._cli import add_copy_to_docs, add_stack_options, bench_parser, refuse_profiled_copy
from ._client import new_session, open_page
from ._profile import print_summary, record, summarize
from ._providers import DEFAULT_ANSWER, UNPUNCTUATED_ANSWER, Floor, Providers, floor_of
from ._stack import CpuWindows, RunningStack, cpu_seconds, local_stack, process_cpu_seconds
from ._stats import RESULTS, copy_to_docs, machine, percentile, publish, table, write_json
from ._turns import SimulatedPage, TurnRecord

ANSWERS = {"default": DEFAULT_ANSWER, "unpunctuated": UNPUNCTUATED_ANSWER}
LEVEL_SECONDS = 120.0  # a level that has not finished by then is cut short and says so
WINDOW_MS = 100  # CPU sampling window (bursts hide in a level's mean)


async def _user(
    stack: RunningStack,
    http: httpx.AsyncClient,
    floor: Floor,
    answer: str,
    users: int,
    user: int,
    turns: int,
    rng: random.Random,
) -> list[TurnRecord]:
    session = await new_session(http)
    records: list[TurnRecord] = []
    ws = await open_page(stack.ws_url, session.token)
    async with ws:
        page = SimulatedPage(http, ws, session, floor.sentences[0], answer)
        if users > 1:
            await asyncio.sleep(rng.uniform(0, 1.0))  # users do not all speak in the same ms
        for turn in range(turns):
            # Alternate so both strategies see the same load at the same moments.
            mode = "streamed" if (turn + user) % 2 == 0 else "old"
            record = TurnRecord(mode=mode, users=users, user=user, turn=turn, t0=0.0)
            records.append(await page.turn(record, f"u{user}t{turn}"))
            if users > 1:
                await asyncio.sleep(rng.uniform(0, 0.3))
    return records


async def _level(
    stack: RunningStack, floor: Floor, answer: str, users: int, turns: int, seed: int
) -> tuple[list[TurnRecord], bool]:
    rng = random.Random(seed + users)
    # Idle connections expire before uvicorn's 5 s keep-alive closes them under a request.
    limits = httpx.Limits(max_connections=users + 10, keepalive_expiry=3)
    async with httpx.AsyncClient(base_url=stack.base_url, limits=limits, timeout=60) as http:
        tasks = [
            asyncio.create_task(
                _user(stack, http, floor, answer, users, u, turns, random.Random(rng.random()))
            )
            for u in range(users)
        ]
        done, pending = await asyncio.wait(tasks, timeout=LEVEL_SECONDS)
        for task in pending:
            task.cancel()
        records = [r for task in done if not task.exception() for r in task.result()]
        for task in done:
            if task.exception():
                print(f"  a user failed: {task.exception()!r}")
    return records, not pending and all(not t.exception() for t in done)


def _values(records: list[TurnRecord], mode: str, mark: str) -> list[float]:
    return [r.marks[mark] for r in records if r.mode == mode and mark in r.marks]


def _breakdown(records: list[TurnRecord], floor: Floor, q: float = 50) -> dict[str, float]:
    """Percentile ``q`` of each stage of a streamed turn, minus what the providers account for.

    Each stage's percentile is taken on its own, so the p95 row says which stage has the tail,
    not how the tail turns add up.
    """
    stages = ("ingress", "toFirstToken", "stream", "synthesis", "egress")
    parts: dict[str, list[float]] = {k: [] for k in stages}
    needed = {"received", "firstToken", "firstSentence", "firstAudio"}
    for r in records:
        led, m = r.ledger, r.marks
        if r.mode != "streamed" or not needed <= led.keys() or "firstAudio" not in m:
            continue
        parts["ingress"].append(led["received"])
        parts["toFirstToken"].append(led["firstToken"] - led["received"] - floor.first_token_ms)
        parts["stream"].append(
            led["firstSentence"] - led["firstToken"] - floor.stream_first_segment_ms
        )
        parts["synthesis"].append(
            led["firstAudio"] - led["firstSentence"] - floor.synthesize_first_segment_ms
        )
        parts["egress"].append(m["firstAudio"] - led["firstAudio"])
    return {k: percentile(v, q) if v else float("nan") for k, v in parts.items()}


def _egress_queue(records: list[TurnRecord]) -> dict[str, float]:
    """Why egress grows: events of the same turn still queued ahead of the first audio.

    The turn's outbox posts one event at a time, so the first audio waits for every event put
    before it; ``ahead`` counts those that reached the page after the audio was put (ledger
    ``firstAudio``) and before it arrived, ``perPostMs`` = egress / (ahead + 1).
    """
    ahead: list[float] = []
    per_post: list[float] = []
    for r in records:
        put, got = r.ledger.get("firstAudio"), r.marks.get("firstAudio")
        if r.mode != "streamed" or put is None or got is None:
            continue
        n = sum(1 for t, kind, _ in r.events if put < t < got and kind != "audio")
        ahead.append(n)
        per_post.append((got - put) / (n + 1))
    return {
        "aheadP50": percentile(ahead, 50),
        "aheadP95": percentile(ahead, 95),
        "perPostMsP50": percentile(per_post, 50),
    }


def _load(records: list[TurnRecord], seconds: float, cpu: dict[str, float]) -> dict[str, float]:
    """Events the stack pushed to pages (each one ``@connections`` post) and the CPU it took."""
    times = sorted(r.t0 + t for r in records for t, _, _ in r.events)
    per_second: dict[int, int] = {}
    for t in times:
        per_second[int(t // 1000)] = per_second.get(int(t // 1000), 0) + 1
    return {
        "seconds": seconds,
        "events_pushed": len(times),
        "events_per_second_mean": len(times) / seconds if seconds else float("nan"),
        "events_per_second_peak": max(per_second.values(), default=0),
        **cpu,
    }


def summarise(users: int, records: list[TurnRecord], floor: Floor) -> dict[str, Any]:
    def pcts(mode: str, mark: str) -> dict[str, float]:
        values = _values(records, mode, mark)
        return {"n": len(values), "p50": percentile(values, 50), "p95": percentile(values, 95)}

    streamed = {m: pcts("streamed", m) for m in
                ("firstDelta", "firstSentence", "firstAudio", "done")}  # fmt: skip
    old = {m: pcts("old", m) for m in ("textComplete", "oldAudio", "oldAudioAtDone", "done")}
    first_audio = _values(records, "streamed", "firstAudio")
    overhead = [v - floor.first_audio_ms for v in first_audio]
    below_sentence = [v - floor.sentence_first_audio_ms for v in first_audio]
    ours, theirs = streamed["firstAudio"], old["oldAudio"]
    return {
        "users": users,
        "turns": len(records),
        "errors": sorted({e for r in records for e in r.errors}),
        "streamed": streamed,
        "old": old,
        # Above the floor of what is spoken first (a clause, or the first sentence).
        "overhead": {"p50": percentile(overhead, 50), "p95": percentile(overhead, 95)},
        # Against the floor of a whole first sentence (negative: earlier than that floor).
        "vs_sentence_floor": {
            "p50": percentile(below_sentence, 50),
            "p95": percentile(below_sentence, 95),
        },
        "ratio_p50": ours["p50"] / theirs["p50"],
        "ratio_p95": ours["p95"] / theirs["p95"],
        "overhead_breakdown_p50": _breakdown(records, floor),
        "overhead_breakdown_p95": _breakdown(records, floor, 95),
        "egress_queue": _egress_queue(records),
    }


def print_report(floor: Floor, levels: list[dict[str, Any]]) -> None:
    print(
        f"\nfirst spoken segment: {floor.segments[0]!r} ({len(floor.segments)} segments, "
        f"{len(floor.sentences)} sentences, {floor.tokens} tokens)\n"
        f"floor: first audio {floor.first_audio_ms:.0f} ms = first token "
        f"{floor.first_token_ms:.0f} + stream {floor.tokens_to_first_segment} tokens "
        f"{floor.stream_first_segment_ms:.0f} + synthesis {floor.synthesize_first_segment_ms:.0f}"
        f"; whole first sentence {floor.sentence_first_audio_ms:.0f} ms; old strategy floor "
        f"{floor.old_first_audio_ms:.0f} ms; floor ratio "
        f"{floor.first_audio_ms / floor.old_first_audio_ms:.3f}"
    )
    rows = []
    for lv in levels:
        s, o = lv["streamed"], lv["old"]
        rows.append([
            lv["users"], s["firstAudio"]["n"],
            f"{s['firstDelta']['p50']:.0f} / {s['firstDelta']['p95']:.0f}",
            f"{s['firstSentence']['p50']:.0f} / {s['firstSentence']['p95']:.0f}",
            f"{s['firstAudio']['p50']:.0f} / {s['firstAudio']['p95']:.0f}",
            f"{s['done']['p50']:.0f} / {s['done']['p95']:.0f}",
            f"{lv['overhead']['p50']:.0f} / {lv['overhead']['p95']:.0f}",
            f"{lv['vs_sentence_floor']['p50']:+.0f} / {lv['vs_sentence_floor']['p95']:+.0f}",
            f"{o['oldAudio']['p50']:.0f} / {o['oldAudio']['p95']:.0f}",
            f"{lv['ratio_p50']:.3f}",
        ])  # fmt: skip
    print(table(
        ["users", "turns", "1st delta", "1st sentence", "1st audio", "done",
         "overhead", "vs sentence floor", "old 1st audio", "ours/old p50"],
        rows,
    ))  # fmt: skip
    print(
        "(ms after the page sent chat, p50 / p95; overhead = first audio − floor of the first "
        "spoken segment; vs sentence floor = first audio − floor of a whole first sentence)"
    )
    print(table(
        ["users", "ingress", "history+model", "stream drift", "synthesis wait", "egress"],
        [[lv["users"], *(f"{p50:.1f} / {p95:.1f}" for p50, p95 in zip(
            lv["overhead_breakdown_p50"].values(), lv["overhead_breakdown_p95"].values(),
            strict=True))]
         for lv in levels],
    ))  # fmt: skip
    print("(ms of each stage above what the providers account for, p50 / p95 of each stage)")
    print(table(
        ["users", "events/s mean", "events/s peak", "stack cores", "+ Redis, DynamoDB",
         "client cores", "ahead of 1st audio p50/p95", "ms per post"],
        [[lv["users"], f"{lv['load']['events_per_second_mean']:.0f}",
          lv["load"]["events_per_second_peak"], f"{lv['load']['cpu_cores_stack']:.2f}",
          f"{lv['load']['cpu_cores_stack_and_children']:.2f}",
          f"{lv['load']['cpu_cores_client']:.2f}",
          f"{lv['egress_queue']['aheadP50']:.0f} / {lv['egress_queue']['aheadP95']:.0f}",
          f"{lv['egress_queue']['perPostMsP50']:.1f}"] for lv in levels],
    ))  # fmt: skip
    print("(events the stack pushed to pages, each one @connections post; CPU over the level)")
    print(table(
        ["users", "stack cores p50 / p95", "windows stack ≥ 0.9", "machine busy p50 / p95",
         "windows machine ≥ 90%"],
        [[lv["users"],
          f"{w['stack_cores_p50']:.2f} / {w['stack_cores_p95']:.2f}",
          f"{w['stack_share_windows_at_least_0_9']:.0%}",
          f"{w['machine_busy_cores_p50']:.2f} / {w['machine_busy_cores_p95']:.2f}",
          f"{w['machine_share_windows_at_least_90pct']:.0%}"]
         for lv in levels if (w := lv["load"].get("cpu_windows"))],
    ))  # fmt: skip
    print(f"(CPU in {WINDOW_MS} ms windows over the level; machine = all {os.cpu_count()} cores, "
          "any process)")  # fmt: skip


def pick_typical(records: list[TurnRecord]) -> TurnRecord:
    streamed = [r for r in records if r.mode == "streamed" and "firstAudio" in r.marks]
    median = statistics.median(r.marks["firstAudio"] for r in streamed)
    return min(streamed, key=lambda r: abs(r.marks["firstAudio"] - median))


def write_waterfall(record: TurnRecord, floor: Floor, providers: Providers, copy: bool) -> Path:
    data = {
        "label": f"1 user, turn {record.turn}",
        "providers": {k: v for k, v in providers.__dict__.items() if k != "answer"},
        "floor": floor.as_dict(),
        "turn": record.as_dict(with_events=True),
    }
    json_path = write_json("turn_waterfall.json", data)
    png_path = RESULTS / "turn_waterfall.png"
    _waterfall.plot(json_path, png_path)  # drawn from the file, so they cannot disagree
    if copy:
        copy_to_docs(json_path, png_path)
    return png_path


async def run(args: argparse.Namespace) -> int:
    providers = Providers(
        first_token_ms=args.first_token_ms,
        tokens_per_second=args.tokens_per_second,
        chars_per_token=args.chars_per_token,
        tts_delay_ms=args.tts_delay_ms,
        tts_ms_per_char=args.tts_ms_per_char,
        first_clause_min_chars=args.first_clause_min_chars,
        first_phrase_min_chars=args.first_phrase_min_chars,
        answer=ANSWERS.get(args.answer, args.answer),
    )
    floor = floor_of(providers)
    levels: list[dict[str, Any]] = []
    profile: dict[str, Any] | None = None
    typical: TurnRecord | None = None
    started = time.monotonic()
    with local_stack(
        providers.environment(), RESULTS / "turn_latency-stack.log", connections=args.connections
    ) as stack:
        async with httpx.AsyncClient(base_url=stack.base_url) as http:  # warm every handler once
            session = await new_session(http)
            ws = await open_page(stack.ws_url, session.token)
            async with ws:
                page = SimulatedPage(http, ws, session, floor.sentences[0], providers.answer)
                await page.turn(TurnRecord("old", 0, 0, 0, 0.0), "warmup")
        for users, turns in zip(args.levels, args.turns, strict=True):
            print(f"{users} users × {turns} turns …", flush=True)
            sampling = users == args.profile
            with record(stack.pid, RESULTS / f"turn_latency-{users}u.pyspy.raw") if sampling \
                    else contextlib.nullcontext():  # fmt: skip
                before = _cpu(stack.pid)
                began = time.monotonic()
                with CpuWindows(stack.pid, WINDOW_MS / 1000) as windows:
                    records, complete = await _level(
                        stack, floor, providers.answer, users, turns, 7
                    )
                took = time.monotonic() - began
                cpu = {k: (v - before[k]) / took for k, v in _cpu(stack.pid).items()}
            if sampling:
                profile = summarize(RESULTS / f"turn_latency-{users}u.pyspy.raw")
            summary = summarise(users, records, floor)
            summary["complete"] = complete
            summary["load"] = _load(records, took, cpu)
            summary["load"]["cpu_windows"] = windows.summary()
            summary["records"] = [r.as_dict() for r in records]
            levels.append(summary)
            if users == 1 or typical is None:
                typical = pick_typical(records)
    print_report(floor, levels)
    if profile is not None:
        print_summary(profile)
    result = {
        "benchmark": "turn_latency",
        "start_point": "the client's send of chat (the page sends it on the final transcript)",
        "machine": machine(),
        "connections": args.connections,
        "seconds": round(time.monotonic() - started, 1),
        "label": args.label,
        "providers": {k: v for k, v in providers.__dict__.items()},
        "floor": floor.as_dict(),
        "levels": levels,
    }
    if profile is not None:
        result["profile"] = {"users": args.profile, **profile}
    suffix = "-profiled" if profile else (f"-{args.label}" if args.label else "")
    publish(f"turn_latency{suffix}.json", result, args.copy_to_docs)
    if typical is not None and profile is None and not args.label:
        print(f"wrote {write_waterfall(typical, floor, providers, args.copy_to_docs)}")
    return 0


def _cpu(pid: int) -> dict[str, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "cpu_cores_stack": process_cpu_seconds(pid),
        "cpu_cores_stack_and_children": cpu_seconds(pid),
        "cpu_cores_client": usage.ru_utime + usage.ru_stime,
    }


def _label(text: str) -> str:
    if not text.replace("-", "").isalnum():
        raise argparse.ArgumentTypeError("letters, digits and '-' only")
    return text


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def main(argv: list[str] | None = None) -> int:
    d = Providers()
    parser = bench_parser("bench.turn_latency", __doc__)
    parser.add_argument("--levels", type=_ints, default=[1, 10, 50], help="concurrent users")
    parser.add_argument(
        "--turns", type=_ints, default=[20, 6, 4], help="turns per user at each level (half old)"
    )
    parser.add_argument("--first-token-ms", type=int, default=d.first_token_ms)
    parser.add_argument("--tokens-per-second", type=float, default=d.tokens_per_second)
    parser.add_argument("--chars-per-token", type=float, default=d.chars_per_token,
                        help="characters in one scripted token (Korean under Gemma 3's "
                        "tokenizer: python -m bench.tokens)")  # fmt: skip
    parser.add_argument("--tts-delay-ms", type=int, default=d.tts_delay_ms)
    parser.add_argument("--tts-ms-per-char", type=float, default=d.tts_ms_per_char)
    parser.add_argument(
        "--first-clause-min-chars",
        type=int,
        default=d.first_clause_min_chars,
        help="the product's FIRST_CLAUSE_MIN_CHARS (0: whole sentences only)",
    )
    parser.add_argument(
        "--first-phrase-min-chars",
        type=int,
        default=d.first_phrase_min_chars,
        help="the product's FIRST_PHRASE_MIN_CHARS (0: no cut at a Korean phrase)",
    )
    parser.add_argument("--answer", default="default",
                        help="the scripted answer: 'default' (5 sentences, Korean commas), "
                        "'unpunctuated' (the same without commas) or any text")  # fmt: skip
    add_copy_to_docs(parser, "the JSON and the waterfall")
    parser.add_argument(
        "--label",
        type=_label,
        help="a variant's name: writes turn_latency-LABEL.json (and no waterfall)",
    )
    add_stack_options(parser, profile_type=int, profile_metavar="USERS",
                      profile_help="sample the stack process with py-spy during this level (its "
                      "figures are then perturbed: the JSON is written as "
                      "turn_latency-profiled.json, never copied to docs)")  # fmt: skip
    args = parser.parse_args(argv)
    refuse_profiled_copy(parser, args)
    if len(args.levels) != len(args.turns):
        parser.error("--levels and --turns need the same number of entries")
    if max(args.turns) > 40 or max(args.levels) > 100:
        parser.error("keep runs bounded: at most 40 turns per user and 100 users")
    return asyncio.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
