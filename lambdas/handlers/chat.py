"""WebSocket route ``chat`` — one turn: stream the answer, speak it sentence by sentence.

The same function runs preemptive turns: the transcripts function invokes it asynchronously with
a ``PreemptiveTurn`` when a partial transcript already reads as a whole question; that turn is
held until a page's ``chat`` with the same text adopts it (services/preemption.py).

The function keeps running after API Gateway's 29-second integration timeout (the route has no
response to wait for); its own timeout bounds the turn.
"""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from voicebot import runtime, wiring
from voicebot.config import preemption_settings
from voicebot.contract.wire import ChatAction, DoneEvent, PreemptiveTurn
from voicebot.errors import ApiError, ServiceUnavailable, internal_error, service_unavailable
from voicebot.ports import ConnectionPoster
from voicebot.protocol import parse_client_action
from voicebot.services.chat import TurnOutcome
from voicebot.websocket import OK, poster_for, send_error, signed_in

from ._observability import entry_point, logger, metrics

# The page names a spoken turn after the transcript it answers (web/js/app.js startTurn).
SPOKEN_TURN_PREFIX = "v-"


async def _chat(body: str | None, connection_id: str, poster: ConnectionPoster) -> None:
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
            speech_ended_at = await _speech_end(user_id, action.turnId)
            # The answer to this very text may already be under way, held: it becomes this turn.
            if await wiring.preemptive_answers().adopt(
                user_id, action.turnId, connection_id, action.text, speech_ended_at
            ):
                metrics.add_metric(name="PreemptiveAdopted", unit=MetricUnit.Count, value=1)
                return
            outcome = await wiring.turn_runner().run(
                user_id, action.turnId, action.text, poster, connection_id, speech_ended_at
            )
            if outcome.error is not None:
                await _release(user_id, action.turnId)  # a failed turn may be asked again
            _turn_metrics(outcome)
            return
    except ApiError as exc:
        await _refuse(poster, connection_id, exc, turn_id, claimed_by)
    except ServiceUnavailable:
        await _refuse(poster, connection_id, service_unavailable(), turn_id, claimed_by)
    except Exception:
        logger.exception("the chat failed before its turn")
        await _refuse(poster, connection_id, internal_error(), turn_id, claimed_by)


async def _refuse(
    poster: ConnectionPoster,
    connection_id: str,
    exc: ApiError,
    turn_id: str | None,
    claimed_by: str | None,
) -> None:
    """A chat that ran no turn: its error, then (unless the turn is another's, or the message
    was malformed) a ``done``, so the page's turn ends; a claimed turn id is released."""
    if claimed_by is not None and turn_id is not None:
        await _release(claimed_by, turn_id)
    done = None
    if turn_id is not None and exc.code != "duplicate_turn" and exc.status not in (400, 413):
        done = DoneEvent(turnId=turn_id, text="", interrupted=False, ledger={})
    await send_error(poster, connection_id, exc, turn_id, then=done)


async def _release(user_id: str, turn_id: str) -> None:
    try:
        await wiring.turn_claims().release_turn(user_id, turn_id)
    except Exception:  # it expires by itself (TURN_CLAIM_TTL_SECONDS)
        logger.warning("could not release a failed turn's claim", exc_info=True)


async def _speech_end(user_id: str, turn_id: str) -> int | None:
    """The device's end of speech of the transcript a spoken turn answers (its id is
    ``v-<transcript event id>``, docs/PROTOCOL.md), if the device said it."""
    if not turn_id.startswith(SPOKEN_TURN_PREFIX):
        return None  # typed text
    event = await wiring.transcript_stream().event(user_id, turn_id[len(SPOKEN_TURN_PREFIX) :])
    return event.speechEndedAt if event is not None else None


async def _held_turn(request: PreemptiveTurn) -> None:
    outcome = await wiring.turn_runner().run_held(
        request.userId,
        request.answerId,
        request.text,
        wiring.connection_poster(),
        wiring.held_answers(),
        preemption_settings().preemptive_hold_seconds,
    )
    if outcome.discarded:
        logger.info("preemptive answer discarded unheard")
        metrics.add_metric(name="PreemptiveDiscarded", unit=MetricUnit.Count, value=1)
        return
    _turn_metrics(outcome)


def _turn_metrics(outcome: TurnOutcome) -> None:
    ledger = outcome.ledger
    if "firstAudio" in ledger:
        # From the page's chat: for an adopted turn that is its adoption, and audio made while
        # it was held went out at that moment.
        asked = ledger.get("adopted", ledger["received"])
        first_audio_ms = max(ledger["firstAudio"], asked) - asked
        metrics.add_metric(name="FirstAudioMs", unit=MetricUnit.Milliseconds, value=first_audio_ms)
    interrupted = int(outcome.interrupted)
    metrics.add_metric(name="TurnsInterrupted", unit=MetricUnit.Count, value=interrupted)


@entry_point(emits_metrics=True)
def _websocket(event: APIGatewayProxyEvent, context: LambdaContext) -> dict[str, Any]:
    ctx = event.request_context
    runtime.run(_chat(event.body, str(ctx.connection_id), poster_for(ctx)))
    return OK


@entry_point(emits_metrics=True)
def _preemptive(event: APIGatewayProxyEvent, context: LambdaContext) -> dict[str, Any]:
    runtime.run(_held_turn(PreemptiveTurn.model_validate(event.raw_event[PreemptiveTurn.KEY])))
    return OK


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if PreemptiveTurn.KEY in event:  # only the transcripts function sends this shape
        return _preemptive(event, context)
    return _websocket(event, context)
