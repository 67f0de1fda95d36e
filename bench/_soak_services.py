"""The soak's services process: the relay, RedisBus, turn claims and cancel flags, alone.

``bench.soak`` starts this as a child, so that its memory is the services' memory and nothing
of the load generator's: it builds everything through ``voicebot.wiring`` from the environment a
function gets (the deployed defaults, an embedded Redis), serves the load generator's calls over a
Unix socket, one task per call as the handlers run them (a page's ``resume`` and ``ping`` go
through the WebSocket route's own code, which closes a connection the registry does not know),
and sends each ``@connections`` post
back over the same socket to the page it is for, which answers sent, gone or throttled.

One JSON object a line, both ways. Calls: ``{"i": n, "op": ..., ...}`` answered ``{"i": n,
"ok": ...}`` or ``{"i": n, "err": code}``. Posts: ``{"p": n, "c": connection, "d": data}``
answered ``{"p": n, "r": true | false | "throttled"}``; closes: ``{"x": connection}``. The
process ends when the socket closes (the load generator stopped or died).

    python -m bench._soak_services SOCKET REDIS_URL STREAM_MAXLEN [--tracemalloc FRAMES]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import logging
import os
import tracemalloc
from pathlib import Path
from typing import Any

Message = dict[str, Any]


def rss_mib(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class SocketPoster:
    """``@connections`` for the pages that live in the load generator, across the socket."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._next = 0

    def send(self, message: Message) -> None:
        self._writer.write(json.dumps(message, ensure_ascii=False).encode() + b"\n")

    async def post(self, connection_id: str, data: bytes) -> bool:
        self._next += 1
        n = self._next
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[n] = answer
        try:
            self.send({"p": n, "c": connection_id, "d": data.decode()})
            result = await answer
        finally:
            del self._pending[n]
        if result == "throttled":
            raise RuntimeError("LimitExceededException")  # what a throttled post raises
        return bool(result)

    def answered(self, n: int, result: Any) -> None:
        answer = self._pending.get(n)
        if answer is not None and not answer.done():
            answer.set_result(result)

    async def close(self, connection_id: str) -> None:
        self.send({"x": connection_id})


def malloc_trim() -> float:
    """Give the C allocator's free memory back to the system; the RSS after, in MiB."""
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    return rss_mib()


async def call(message: Message) -> Any:
    from voicebot import wiring
    from voicebot.contract.wire import TranscriptPost

    op, user = message["op"], message.get("user", "")
    if op == "publish":
        post = TranscriptPost.model_validate(message["post"])  # as the handler validates it
        async with wiring.fairness().admit(f"u:{user}"):
            result = await wiring.transcript_relay().publish(user, post)
        return {"event_id": result.event_id, "delivered": result.delivered}
    if op == "register":
        await wiring.connection_registry().register(user, message["c"])
        return None
    if op == "unregister":
        await wiring.connection_registry().unregister(message["c"])
        return None
    if op == "message":  # a page's resume or ping, through the WebSocket route's own code
        from handlers.ws_messages import _handle

        await _handle(message["body"], message["c"], wiring.connection_poster())
        return None
    if op == "claim":
        return await wiring.turn_claims().claim_turn(user, message["turn"])
    if op == "cancel":
        await wiring.cancel_flags().request_cancel(user, message["turn"], 1)
        return None
    if op == "snapshot":  # tracemalloc, when this process was started with --tracemalloc
        tracemalloc.take_snapshot().dump(message["path"])
        return rss_mib()
    if op == "trim":
        before = rss_mib()
        return {"before": before, "after": malloc_trim()}
    raise ValueError(f"unknown op {op!r}")


async def answer(poster: SocketPoster, message: Message) -> None:
    from voicebot.errors import ApiError, ServiceUnavailable

    try:
        poster.send({"i": message["i"], "ok": await call(message)})
    except ApiError as exc:
        poster.send({"i": message["i"], "err": exc.code})
    except ServiceUnavailable:
        poster.send({"i": message["i"], "err": "service_unavailable"})
    except Exception as exc:  # a 500 where a handler runs: the load generator counts it
        logging.getLogger(__name__).exception("call failed")
        poster.send({"i": message["i"], "err": f"internal:{type(exc).__name__}"})


async def serve(socket_path: str, environment: dict[str, str]) -> None:
    from voicebot import wiring

    wiring.configure(environment)
    done = asyncio.Event()
    running: set[asyncio.Task[None]] = set()

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        poster = SocketPoster(writer)
        wiring.use_connection_poster(poster)
        try:
            while line := await reader.readline():
                message = json.loads(line)
                if "p" in message:
                    poster.answered(message["p"], message["r"])
                    continue
                task = asyncio.create_task(answer(poster, message))
                running.add(task)
                task.add_done_callback(running.discard)
        finally:
            for task in list(running):
                task.cancel()
            writer.close()
            done.set()

    server = await asyncio.start_unix_server(connected, socket_path, limit=2**20)
    print("ready", flush=True)  # the load generator waits for this line
    async with server:
        await done.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench._soak_services")
    parser.add_argument("socket")
    parser.add_argument("redis_url")
    parser.add_argument("stream_maxlen", type=int)
    parser.add_argument("--tracemalloc", type=int, default=0, metavar="FRAMES",
                        help="trace allocations (this many frames each) for snapshots")  # fmt: skip
    args = parser.parse_args()
    if args.tracemalloc:
        tracemalloc.start(args.tracemalloc)
    from voicebot.contract.settings import RedisSettings

    environment = {
        **RedisSettings.environment(
            redis_url=args.redis_url, transcript_stream_maxlen=args.stream_maxlen
        ),
        "PREEMPTIVE_ANSWERS": "false",
    }
    # Throttled posts are the point of the exercise; their warnings would drown the report.
    logging.getLogger("voicebot").setLevel(logging.ERROR)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.socket, environment))


if __name__ == "__main__":
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    main()
