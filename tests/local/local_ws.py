"""A small WebSocket client for the tests: send JSON, collect server events until a condition."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from websockets.asyncio.client import ClientConnection, connect


def page_url(ws_base: str, token: str, path: str = "/ws") -> str:
    return f"{ws_base}{path}?token={quote(token)}"


async def open_page(ws_base: str, token: str) -> ClientConnection:
    return await connect(page_url(ws_base, token), max_size=2**20)


async def send(ws: ClientConnection, message: dict[str, Any]) -> None:
    await ws.send(json.dumps(message, ensure_ascii=False))


async def collect(
    ws: ClientConnection,
    until: Callable[[dict[str, Any]], bool],
    timeout: float = 30.0,
) -> list[dict[str, Any]]:
    """Events in arrival order, up to and including the first one ``until`` accepts."""
    events: list[dict[str, Any]] = []

    async def run() -> None:
        while True:
            event = json.loads(await ws.recv())
            events.append(event)
            if until(event):
                return

    try:
        await asyncio.wait_for(run(), timeout)
    except TimeoutError:
        raise AssertionError(f"timed out; got {events}") from None
    return events


def turn_done(turn_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e.get("type") == "done" and e.get("turnId") == turn_id
