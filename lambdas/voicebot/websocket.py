"""WebSocket plumbing shared by the handlers: who is on this connection, where to post back."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from . import wiring
from .adapters.connections import endpoint_from_request
from .contract.wire import DoneEvent, ErrorEvent, ServerEvent
from .errors import ApiError, ConnectionUnknown
from .ports import ConnectionPoster
from .protocol import InvalidAction, encode_event

logger = logging.getLogger(__name__)


def management_endpoint(request_context: Any) -> str:
    return endpoint_from_request(request_context.domain_name, request_context.stage)


def poster_for(request_context: Any) -> ConnectionPoster:
    return wiring.connection_poster(management_endpoint(request_context))


async def user_of(connection_id: str) -> str:
    user_id = await wiring.connection_registry().owner(connection_id)
    if user_id is None:
        raise ConnectionUnknown()
    return user_id


@asynccontextmanager
async def signed_in(connection_id: str) -> AsyncIterator[str]:
    """The connection's user, for the block, within the fairness caps (429 ``rate_limited``):
    first per connection (its user is not known before the registry is read), then per user."""
    gate = wiring.fairness()
    async with gate.admit(f"c:{connection_id}"):
        user_id = await user_of(connection_id)
        async with gate.admit(f"u:{user_id}"):
            yield user_id


async def send_error(
    poster: ConnectionPoster,
    connection_id: str,
    exc: ApiError,
    turn_id: str | None = None,
    *,
    then: ServerEvent | None = None,
) -> None:
    """The error (and ``then``, e.g. the ``done`` of a turn that could not run)."""
    if turn_id is None and isinstance(exc, InvalidAction):
        turn_id = exc.turn_id  # the message failed validation, but it named its turn
    event = ErrorEvent(
        code=exc.code, message=exc.message, turnId=turn_id, retryAfter=exc.retry_after
    )
    await poster.post(connection_id, encode_event(event))
    if then is not None:
        await poster.post(connection_id, encode_event(then))
    if isinstance(exc, ConnectionUnknown):
        # The registry lost this connection (Redis restarted, evicted or replaced): closing it
        # makes the page reconnect, which registers it again, and resume what it missed.
        try:
            await poster.close(connection_id)
        except Exception:
            logger.warning("could not close an unregistered connection", exc_info=True)


async def answer_error(
    poster: ConnectionPoster, connection_id: str, exc: ApiError, turn_id: str | None = None
) -> None:
    """``send_error`` for a route that answers a page's message: the answer may fail as the
    message did (a throttled or gone connection, e.g. the pong that could not be posted), and
    then the page's next ping tells; the route still ends cleanly, with a warning."""
    try:
        await send_error(poster, connection_id, exc, turn_id)
    except Exception as error:
        logger.warning("could not answer the page", extra={"error": type(error).__name__})


def refused_done(turn_id: str) -> DoneEvent:
    """The ``done`` of a turn that was refused before it started: no text, no ledger."""
    return DoneEvent(turnId=turn_id, text="", interrupted=False, ledger={})


async def release_turn(user_id: str, turn_id: str) -> None:
    """A failed turn's id may be asked again (docs/PROTOCOL.md, *Failures*)."""
    try:
        await wiring.turn_claims().release_turn(user_id, turn_id)
    except Exception:  # it expires by itself (TURN_CLAIM_TTL_SECONDS)
        logger.warning("could not release a failed turn's claim", exc_info=True)


OK: dict[str, Any] = {"statusCode": 200}
