"""The client side of the protocol that benchmarks need: sessions and page WebSockets."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import httpx
from websockets.asyncio.client import ClientConnection, connect


@dataclass(frozen=True)
class Session:
    user_id: str
    token: str
    device_token: str


async def new_session(http: httpx.AsyncClient) -> Session:
    response = await http.post("/api/sessions", json={})
    response.raise_for_status()
    body = response.json()
    return Session(body["userId"], body["token"], body["deviceToken"])


async def open_page(ws_url: str, token: str) -> ClientConnection:
    # No client pings: the benchmark must not add traffic the page would not send.
    return await connect(
        f"{ws_url}?token={quote(token)}", ping_interval=None, max_size=2**20, open_timeout=30
    )
