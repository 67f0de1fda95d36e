"""One user's flood must not answer everyone ``service_unavailable``: the handlers of a process
share one Redis pool, so each caller has a cap on requests in flight (429 ``rate_limited`` past
it, for that caller only) and the pool makes a command wait for a free connection."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict

from handlers import ws_messages
from tests.faults.relay_harness import *  # noqa: F403
from voicebot import runtime, wiring


class Pages:
    """The pages' side of the socket, in memory: what each connection was sent."""

    def __init__(self) -> None:
        self.received: dict[str, list[dict]] = defaultdict(list)

    async def post(self, connection_id: str, data: bytes) -> bool:
        self.received[connection_id].append(json.loads(data))
        return True

    async def close(self, connection_id: str) -> None:
        pass


def test_a_flood_of_pings_from_one_user_leaves_other_users_pings_answered(api):
    flood_page = api.page(api.session()["token"])
    others = [api.page(api.session()["token"]) for _ in range(4)]
    pages = Pages()
    ping = json.dumps({"action": "ping"})

    async def burst() -> None:
        # All at once on the handlers' loop, as a process serving many invocations sees them.
        flood = [ws_messages._handle(ping, flood_page, pages) for _ in range(600)]
        calm = [ws_messages._handle(ping, page, pages) for page in others for _ in range(5)]
        await asyncio.gather(*flood, *calm)

    runtime.run(burst())

    codes = defaultdict(int)
    for event in pages.received[flood_page]:
        codes[event.get("code", event["type"])] += 1
    for page in others:  # a few at a time each, within their own cap
        assert pages.received[page] == [{"type": "pong"}] * 5
    assert sum(codes.values()) == 600
    assert codes["pong"] >= 1 and set(codes) <= {"pong", "rate_limited"}, dict(codes)
    assert wiring.fairness().in_flight(f"c:{flood_page}") == 0  # every slot was given back


def test_more_callers_than_pooled_connections_wait_for_one_instead_of_failing(api, fault_env):
    fault_env.set(REDIS_MAX_CONNECTIONS="4")
    callers = [api.page(api.session()["token"]) for _ in range(120)]
    pages = Pages()
    ping = json.dumps({"action": "ping"})

    async def burst() -> None:
        await asyncio.gather(*(ws_messages._handle(ping, page, pages) for page in callers))

    runtime.run(burst())

    assert all(pages.received[page] == [{"type": "pong"}] for page in callers)
