"""The pages' WebSocket connections and the ``@connections`` management API that reaches them.

Handlers post back through boto3's ``apigatewaymanagementapi`` client, unchanged: it sends
``POST /{stage}/@connections/{id}`` with the raw message as the body. Each connection has an
outbox (a FIFO queue drained by one task), so posts keep their order, a slow page never blocks
a handler, and a post made while ``$connect`` is still running (a transcript racing the
handshake) waits for the accept instead of being lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from voicebot.adapters.connections import ApiGatewayConnectionPoster

_CLOSE = None
# The ``@connections`` route answers only requests that carry this run's key in this header: the
# stack's own handlers (``--connections http``) and tools of the same user, never a web page.
MANAGEMENT_KEY_HEADER = "X-Voicebot-Management-Key"
# Where in the data dir a running stack keeps that key (readable by its user only).
MANAGEMENT_KEY_FILE = "management-key"


@dataclass
class PageConnection:
    connection_id: str
    source_ip: str
    user_agent: str
    connected_at: float = field(default_factory=time.time)
    last_active_at: float = field(default_factory=time.time)
    outbox: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)

    def touch(self) -> None:
        self.last_active_at = time.time()

    async def pump(self, websocket: WebSocket) -> None:
        """Send queued messages to the page, in order, until closed (by DELETE or the page)."""
        while True:
            message = await self.outbox.get()
            if message is _CLOSE:
                with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                    await websocket.close(1000)
                return
            try:
                await websocket.send_text(message)
            except (RuntimeError, WebSocketDisconnect, OSError):
                return  # the page went away; the receive loop unregisters it


class InProcessPoster:
    """The handlers' ConnectionPoster when pages live in this process: straight to the outbox.

    Posting through boto3 to our own ``@connections`` endpoint costs two HTTP hops of CPU per
    message in one process (most of the stack's CPU under load); this hands the message to the
    page's outbox on the server's loop instead. ``--connections http`` keeps the boto3 path.
    """

    def __init__(self, hub: ConnectionHub, loop: asyncio.AbstractEventLoop) -> None:
        self._hub = hub
        self._loop = loop

    async def post(self, connection_id: str, data: bytes) -> bool:
        page = self._hub.get(connection_id)
        if page is None:
            return False  # as a 410 GoneException would say
        message = data.decode("utf-8", errors="replace")
        self._loop.call_soon_threadsafe(page.outbox.put_nowait, message)
        return True

    async def close(self, connection_id: str) -> None:
        """As ``DELETE @connections/{id}``: the page's socket is closed (1000)."""
        page = self._hub.get(connection_id)
        if page is not None:
            self._hub.discard(connection_id)
            self._loop.call_soon_threadsafe(page.outbox.put_nowait, _CLOSE)


class ManagementApiPoster(ApiGatewayConnectionPoster):
    """``--connections http``: boto3 to this twin's ``@connections``, as on AWS, with the run's
    management key added to every request (on AWS, IAM signs the call; here the key does)."""

    def __init__(self, endpoint_url: str, key: str) -> None:
        super().__init__(endpoint_url)

        def add_key(request: Any, **_: Any) -> None:
            request.headers[MANAGEMENT_KEY_HEADER] = key

        self._client.meta.events.register("before-sign.apigatewaymanagementapi", add_key)


class ConnectionHub:
    def __init__(self) -> None:
        self._pages: dict[str, PageConnection] = {}

    def open(self, source_ip: str, user_agent: str) -> PageConnection:
        # Unguessable, like API Gateway's: the id is the only key to post to a page.
        page = PageConnection(secrets.token_urlsafe(12), source_ip, user_agent)
        self._pages[page.connection_id] = page
        return page

    def get(self, connection_id: str) -> PageConnection | None:
        return self._pages.get(connection_id)

    def discard(self, connection_id: str) -> None:
        self._pages.pop(connection_id, None)

    def __len__(self) -> int:
        return len(self._pages)

    def close_all(self) -> None:
        for page in list(self._pages.values()):
            page.outbox.put_nowait(_CLOSE)


def _gone(connection_id: str) -> Response:
    # botocore reads the error code from this header, as from the real service.
    body = {"__type": "GoneException", "message": f"Connection {connection_id} is gone."}
    return Response(
        json.dumps(body),
        status_code=410,
        media_type="application/json",
        headers={"x-amzn-ErrorType": "GoneException"},
    )


def _forbidden() -> Response:
    # What API Gateway answers a management call without valid credentials.
    body = {"__type": "ForbiddenException", "message": "Forbidden"}
    return Response(
        json.dumps(body),
        status_code=403,
        media_type="application/json",
        headers={"x-amzn-ErrorType": "ForbiddenException"},
    )


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def management_endpoint(hub: ConnectionHub, key: str) -> Callable[[Request], Awaitable[Response]]:
    """Starlette endpoints for POST/GET/DELETE ``/{stage}/@connections/{connectionId}``, for
    callers that hold the run's management key."""
    expected = key.encode()

    async def connection(request: Request) -> Response:
        given = request.headers.get(MANAGEMENT_KEY_HEADER, "").encode()
        if not secrets.compare_digest(given, expected):
            return _forbidden()
        connection_id = request.path_params["connection_id"]
        page = hub.get(connection_id)
        if page is None:
            return _gone(connection_id)
        if request.method == "POST":
            data = await request.body()
            # API Gateway delivers posted data as one text frame.
            page.outbox.put_nowait(data.decode("utf-8", errors="replace"))
            return Response(status_code=200)
        if request.method == "DELETE":
            hub.discard(connection_id)
            page.outbox.put_nowait(_CLOSE)
            return Response(status_code=204)
        body = {
            "ConnectedAt": _iso(page.connected_at),
            "LastActiveAt": _iso(page.last_active_at),
            "Identity": {"SourceIp": page.source_ip, "UserAgent": page.user_agent},
        }
        return Response(json.dumps(body), media_type="application/json")

    return connection
