"""The chat function: one turn, streamed to the page and spoken sentence by sentence.

No route reaches it. It is invoked asynchronously with a ``PageTurn`` by the chat route's function
(``handlers.ws_chat``), which has checked and claimed the turn and answered API Gateway at once,
and with a ``PreemptiveTurn`` by the transcripts function when a partial transcript already reads
as a whole question; that turn is held until a page's ``chat`` with the same text adopts it
(services/preemption.py). The function's own timeout bounds a turn.
"""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from voicebot import runtime, wiring
from voicebot.config import preemption_settings
from voicebot.contract.wire import PageTurn, PreemptiveTurn
from voicebot.errors import ServiceUnavailable, internal_error, service_unavailable
from voicebot.services.chat import TurnOutcome
from voicebot.websocket import OK, refused_done, release_turn, send_error

from ._observability import entry_point, logger, metrics


async def _page_turn(turn: PageTurn) -> None:
    poster = wiring.connection_poster()
    try:
        runner = wiring.turn_runner()
    except ServiceUnavailable as exc:
        # The model could not be built (its API key's secret unreadable or still empty): said
        # plainly in the log, without a stack trace; the page may ask again.
        logger.error(str(exc))
        await release_turn(turn.userId, turn.turnId)
        await send_error(
            poster,
            turn.connectionId,
            service_unavailable(),
            turn.turnId,
            then=refused_done(turn.turnId),
        )
        return
    try:
        outcome = await runner.run(
            turn.userId,
            turn.turnId,
            turn.text,
            poster,
            turn.connectionId,
            speech_ended_at=turn.speechEndedAt,
            received_at=turn.receivedAt,
        )
    except Exception:
        # The runner ends every turn itself; should it ever fail outright, the page still
        # hears of it and its turn still ends, and the turn may be asked again.
        logger.exception("the turn failed")
        await release_turn(turn.userId, turn.turnId)
        await send_error(
            poster, turn.connectionId, internal_error(), turn.turnId, then=refused_done(turn.turnId)
        )
        return
    if outcome.error is not None:
        await release_turn(turn.userId, turn.turnId)  # a failed turn may be asked again
    await _count_speech(turn.userId, outcome)
    _turn_metrics(outcome)


async def _count_speech(user_id: str, outcome: TurnOutcome) -> None:
    """The characters a turn spoke count against the user's speech quota (services/quotas.py)."""
    await wiring.quota_service().record_speech(user_id, sum(map(len, outcome.sentences)))


async def _held_turn(request: PreemptiveTurn) -> None:
    if not await wiring.quota_service().turn_allowed(request.userId):
        return  # the page's own chat is refused with quota_exceeded
    try:
        runner = wiring.turn_runner()
    except ServiceUnavailable as exc:
        logger.error(str(exc))  # unheard: the page's own chat then hears of it
        return
    outcome = await runner.run_held(
        request.userId,
        request.answerId,
        request.text,
        wiring.connection_poster(),
        wiring.held_answers(),
        preemption_settings().preemptive_hold_seconds,
    )
    await _count_speech(request.userId, outcome)
    if outcome.discarded:
        logger.info("preemptive answer discarded unheard")
        metrics.add_metric(name="PreemptiveDiscarded", unit=MetricUnit.Count, value=1)
        return
    _turn_metrics(outcome)


_LEDGER_METRICS = (
    ("firstToken", "FirstTokenMs"),
    ("firstSentence", "FirstSentenceMs"),
    ("firstAudio", "FirstAudioMs"),
)


def _turn_metrics(outcome: TurnOutcome) -> None:
    ledger = outcome.ledger
    # From the page's chat: for an adopted turn that is its adoption, and what was made while
    # it was held went out at that moment. The dashboard plots the three (cdk/operations.py).
    asked = ledger.get("adopted", ledger.get("received"))
    for mark, metric in _LEDGER_METRICS:
        if asked is not None and mark in ledger:
            value = max(ledger[mark], asked) - asked
            metrics.add_metric(name=metric, unit=MetricUnit.Milliseconds, value=value)
    interrupted = int(outcome.interrupted)
    metrics.add_metric(name="TurnsInterrupted", unit=MetricUnit.Count, value=interrupted)


@entry_point(emits_metrics=True)
def _page(event: APIGatewayProxyEvent, context: LambdaContext) -> dict[str, Any]:
    runtime.run(_page_turn(PageTurn.model_validate(event.raw_event[PageTurn.KEY])))
    return OK


@entry_point(emits_metrics=True)
def _preemptive(event: APIGatewayProxyEvent, context: LambdaContext) -> dict[str, Any]:
    runtime.run(_held_turn(PreemptiveTurn.model_validate(event.raw_event[PreemptiveTurn.KEY])))
    return OK


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Only the chat route's function and the transcripts function invoke this one.
    if PreemptiveTurn.KEY in event:
        return _preemptive(event, context)
    return _page(event, context)
