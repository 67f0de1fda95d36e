"""The real local stack (``python -m local``) over its real WebSocket, with the Redis it uses
restarted under it: an open page is told ``unauthorized`` and its socket is closed, so it
reconnects, registers again, and its ``resume`` replays what was published meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from local.redis_server import EmbeddedRedis
from tests.local.conftest import RunningStack, new_session, scripted_stack_on
from tests.local.local_ws import collect, open_page, send


@pytest.fixture(scope="module")
def stack(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    running = scripted_stack_on(redis_server.url, tmp_path_factory.mktemp("stack"))
    yield running.start()
    running.stop()


def publish(http: httpx.Client, device_token: str, utterance: str, text: str) -> httpx.Response:
    body = {"utteranceId": utterance, "seq": 0, "text": text, "final": True}
    headers = {"Authorization": f"Bearer {device_token}"}
    response = http.post("/api/transcripts", json=body, headers=headers)
    if response.status_code == 503:  # a device retries (main's pool failed once after a restart)
        response = http.post("/api/transcripts", json=body, headers=headers)
    return response


def is_transcript(event: dict) -> bool:
    return event.get("type") == "transcript"


@pytest.mark.timeout(120)
def test_a_page_survives_its_redis_being_restarted(stack, redis_server):
    async def scenario() -> None:
        with stack.client() as http:
            session = new_session(http)
            page = await open_page(stack.ws_url, session["token"])
            assert publish(http, session["deviceToken"], "u1", "하나").status_code == 202
            (first,) = await collect(page, is_transcript, timeout=10)

            redis_server.restart()  # the registry, the stream, the claims: all gone
            during = publish(http, session["deviceToken"], "u2", "둘")
            assert during.status_code == 202 and during.json()["delivered"] == 0

            await send(page, {"action": "ping"})
            (error,) = await collect(page, lambda e: e.get("type") == "error", timeout=10)
            assert error["code"] == "unauthorized"
            with pytest.raises(ConnectionClosed):  # the server closed it: the page reconnects
                await asyncio.wait_for(page.recv(), 10)

            again = await open_page(stack.ws_url, session["token"])
            await send(again, {"action": "resume", "after": first["id"]})
            (missed,) = await collect(again, is_transcript, timeout=10)
            assert missed["text"] == "둘"
            await send(again, {"action": "ping"})
            assert await collect(again, lambda e: e.get("type") == "pong", timeout=10) == [
                {"type": "pong"}
            ]
            await again.close()

    asyncio.run(scenario())
