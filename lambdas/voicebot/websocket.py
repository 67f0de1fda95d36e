"""WebSocket plumbing shared by the handlers: who is on this connection, where to post back."""

from __future__ import annotations

from typing import Any

from . import wiring
from .adapters.connections import endpoint_from_request
from .contract.wire import DoneEvent, ErrorEvent
from .errors import ApiError
from .ports import ConnectionPoster
from .protocol import InvalidAction, encode_event


def management_endpoint(request_context: Any) -> str:
    return endpoint_from_request(request_context.domain_name, request_context.stage)


def poster_for(request_context: Any) -> ConnectionPoster:
    return wiring.connection_poster(management_endpoint(request_context))


async def user_of(connection_id: str) -> str:
    user_id = await wiring.connection_registry().owner(connection_id)
    if user_id is None:
        raise ApiError(401, "unauthorized", "This connection is not signed in; reconnect.")
    return user_id


async def send_error(
    poster: ConnectionPoster, connection_id: str, exc: ApiError, turn_id: str | None = None
) -> None:
    if turn_id is None and isinstance(exc, InvalidAction):
        turn_id = exc.turn_id  # the message failed validation, but it named its turn
    event = ErrorEvent(
        code=exc.code, message=exc.message, turnId=turn_id, retryAfter=exc.retry_after
    )
    await poster.post(connection_id, encode_event(event))


async def send_done(poster: ConnectionPoster, connection_id: str, turn_id: str) -> None:
    """End a turn that was refused before it started: no text, no ledger."""
    event = DoneEvent(turnId=turn_id, text="", interrupted=False, ledger={})
    await poster.post(connection_id, encode_event(event))


OK: dict[str, Any] = {"statusCode": 200}
