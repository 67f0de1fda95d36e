"""WebSocket route ``chat``: check the message, claim the turn, hand it to the chat function.

API Gateway waits at most 29 seconds for a route's integration, and an answer often takes longer:
a route that streamed the turn itself would have the page sent an untyped "Endpoint request timed
out" frame, and a gateway error logged, for every long answer. So this function answers at once:
it checks the message and the connection, claims the turn id (a second page or a resent message
runs no second turn), adopts a held preemptive answer to the same text if there is one, and
otherwise starts the turn in the chat function (an asynchronous invoke; in the local stack an
in-process one), which streams it to the page under its own timeout.
"""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from voicebot import runtime, wiring
from voicebot.contract.wire import ChatAction, PageTurn
from voicebot.errors import (
    ApiError,
    QuotaExceeded,
    ServiceUnavailable,
    internal_error,
    service_unavailable,
)
from voicebot.ports import Adoption, ConnectionPoster
from voicebot.protocol import parse_client_action
from voicebot.services.chat import now_ms
from voicebot.websocket import (
    OK,
    poster_for,
    refused_done,
    release_turn,
    send_error,
    signed_in,
)

from ._observability import entry_point, logger, metrics

# The page names a spoken turn after the transcript it answers (web/js/app.js startTurn).
SPOKEN_TURN_PREFIX = "v-"


async def _chat(body: str | None, connection_id: str, poster: ConnectionPoster) -> None:
    received_at = now_ms()
    turn_id: str | None = None
    claimed_by: str | None = None  # the user whose claim on turn_id this chat holds
    try:
        action = parse_client_action(body, max_bytes=wiring.max_body_bytes())
        turn_id = getattr(action, "turnId", None)
        if not isinstance(action, ChatAction):
            raise ApiError(400, "wrong_route", "Only chat is handled by the chat route.")
        async with signed_in(connection_id) as user_id:
            if not await wiring.turn_claims().claim_turn(user_id, action.turnId):
                # Another page of this user (or a resent message) already asked this turn.
                raise ApiError(409, "duplicate_turn", "This turn is already being answered.")
            claimed_by = user_id
            # Before the model or the synthesizer is asked anything: a refused turn costs nothing.
            await wiring.quota_service().admit_turn(user_id)
            speech_ended_at = await _speech_end(user_id, action.turnId)
            # The answer to this very text may already be under way, held: it becomes this turn.
            adoption = Adoption(action.turnId, connection_id, action.text, speech_ended_at)
            if await wiring.preemptive_answers().adopt(user_id, adoption):
                metrics.add_metric(name="PreemptiveAdopted", unit=MetricUnit.Count, value=1)
                return
            # 0 for every turn started, so the metric's average is the share of turns adopted.
            metrics.add_metric(name="PreemptiveAdopted", unit=MetricUnit.Count, value=0)
            starter = wiring.turn_starter()
            if starter is None:
                raise RuntimeError("Set PREEMPTIVE_TURN_FUNCTION (the chat function's name).")
            turn = PageTurn(
                userId=user_id,
                turnId=action.turnId,
                connectionId=connection_id,
                text=action.text,
                receivedAt=received_at,
                speechEndedAt=speech_ended_at,
            )
            await starter.start(turn)
    except QuotaExceeded as exc:
        metrics.add_metric(name="QuotaExceeded", unit=MetricUnit.Count, value=1)
        await _refuse(poster, connection_id, exc, turn_id, claimed_by)
    except ApiError as exc:
        await _refuse(poster, connection_id, exc, turn_id, claimed_by)
    except ServiceUnavailable:
        await _refuse(poster, connection_id, service_unavailable(), turn_id, claimed_by)
    except Exception:
        # Any other failure (a Redis error that is not "unreachable", a failed invoke): the
        # page is still told, and its turn still ends.
        logger.exception("the chat failed before its turn")
        await _refuse(poster, connection_id, internal_error(), turn_id, claimed_by)


async def _refuse(
    poster: ConnectionPoster,
    connection_id: str,
    exc: ApiError,
    turn_id: str | None,
    claimed_by: str | None,
) -> None:
    """A chat that started no turn: its error, then (unless the turn is another page's, or the
    message was malformed) a ``done``, so the page's turn ends; a claimed turn id is released,
    so the same turn may be asked again."""
    if claimed_by is not None and turn_id is not None:
        await release_turn(claimed_by, turn_id)
    done = None
    if turn_id is not None and exc.code != "duplicate_turn" and exc.status not in (400, 413):
        done = refused_done(turn_id)
    await send_error(poster, connection_id, exc, turn_id, then=done)


async def _speech_end(user_id: str, turn_id: str) -> int | None:
    """The device's end of speech of the transcript a spoken turn answers (its id is
    ``v-<transcript event id>``, docs/PROTOCOL.md), if the device said it."""
    if not turn_id.startswith(SPOKEN_TURN_PREFIX):
        return None  # typed text
    event = await wiring.transcript_stream().event(user_id, turn_id[len(SPOKEN_TURN_PREFIX) :])
    return event.speechEndedAt if event is not None else None


@entry_point(emits_metrics=True)
def handler(event: APIGatewayProxyEvent, context: LambdaContext) -> dict[str, Any]:
    ctx = event.request_context
    runtime.run(_chat(event.body, str(ctx.connection_id), poster_for(ctx)))
    return OK
