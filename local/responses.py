"""The twin's own answers, in the protocol's error shape: HTTP errors and refused handshakes."""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.websockets import WebSocket


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def deny(
    websocket: WebSocket,
    status: int,
    code: str | None = None,
    message: str = "The connection was refused.",
) -> None:
    """Refuse a WebSocket handshake with an HTTP status: the socket is never accepted."""
    if code is None:
        code = {401: "unauthorized", 403: "forbidden", 404: "not_found"}.get(status, "unavailable")
    try:
        await websocket.send_denial_response(error_response(status, code, message))
    except RuntimeError:
        # A server without the denial-response extension answers a close-before-accept with 403.
        await websocket.close(1008)
