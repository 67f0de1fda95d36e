"""WebSocket route ``chat`` — one turn: stream the answer, speak it sentence by sentence.

The function keeps running after API Gateway's 29-second integration timeout (the route has no
response to wait for); its own timeout bounds the turn.
"""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from voicebot import runtime, wiring
from voicebot.contract.wire import ChatAction
from voicebot.errors import ApiError, ServiceUnavailable, service_unavailable
from voicebot.ports import ConnectionPoster
from voicebot.protocol import parse_client_action
from voicebot.websocket import OK, poster_for, send_error, user_of

from ._observability import entry_point, metrics


async def _chat(body: str | None, connection_id: str, poster: ConnectionPoster) -> None:
    turn_id: str | None = None
    try:
        action = parse_client_action(body, max_bytes=wiring.max_body_bytes())
        turn_id = getattr(action, "turnId", None)
        if not isinstance(action, ChatAction):
            raise ApiError(400, "wrong_route", "Only chat is handled by the chat route.")
        user_id = await user_of(connection_id)
        if not await wiring.turn_claims().claim_turn(user_id, action.turnId):
            # Another page of this user (or a resent message) already asked this turn.
            raise ApiError(409, "duplicate_turn", "This turn is already being answered.")
    except ApiError as exc:
        await send_error(poster, connection_id, exc, turn_id)
        return
    except ServiceUnavailable:
        await send_error(poster, connection_id, service_unavailable(), turn_id)
        return
    outcome = await wiring.turn_runner().run(
        user_id, action.turnId, action.text, poster, connection_id
    )
    ledger = outcome.ledger
    if "firstAudio" in ledger:
        first_audio_ms = ledger["firstAudio"] - ledger["received"]
        metrics.add_metric(name="FirstAudioMs", unit=MetricUnit.Milliseconds, value=first_audio_ms)
    interrupted = int(outcome.interrupted)
    metrics.add_metric(name="TurnsInterrupted", unit=MetricUnit.Count, value=interrupted)


@entry_point(emits_metrics=True)
def handler(event: APIGatewayProxyEvent, context: LambdaContext) -> dict[str, Any]:
    ctx = event.request_context
    runtime.run(_chat(event.body, str(ctx.connection_id), poster_for(ctx)))
    return OK
