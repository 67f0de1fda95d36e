"""WebSocket routes ``cancel``, ``resume``, ``ping`` and ``$default`` (anything unknown)."""

from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from voicebot import runtime, wiring
from voicebot.contract.wire import CancelAction, PingAction, PongEvent, ResumeAction
from voicebot.errors import ApiError, ServiceUnavailable, internal_error, service_unavailable
from voicebot.ports import ConnectionPoster
from voicebot.protocol import encode_event, parse_client_action
from voicebot.websocket import OK, answer_error, poster_for, signed_in

from ._observability import entry_point, logger


async def _handle(body: str | None, connection_id: str, poster: ConnectionPoster) -> None:
    turn_id: str | None = None
    try:
        action = parse_client_action(body, max_bytes=wiring.max_body_bytes())
        turn_id = getattr(action, "turnId", None)
        async with signed_in(connection_id) as user_id:
            if isinstance(action, PingAction):
                await poster.post(connection_id, encode_event(PongEvent()))
            elif isinstance(action, CancelAction):
                # A running turn reads the flag; a finished one is corrected in the history.
                await wiring.cancel_flags().request_cancel(user_id, action.turnId, action.heard)
                await wiring.history_service().record_heard(user_id, action.turnId, action.heard)
            elif isinstance(action, ResumeAction):
                relay = wiring.transcript_relay()
                sent = await relay.resume(user_id, connection_id, action.after)
                logger.info("resumed", extra={"replayed": sent})
            else:
                raise ApiError(400, "wrong_route", "chat is handled by the chat route.")
    except ApiError as exc:
        await answer_error(poster, connection_id, exc, turn_id)
    except ServiceUnavailable:
        await answer_error(poster, connection_id, service_unavailable(), turn_id)
    except Exception:
        # Any other failure (a Redis or DynamoDB error that is not "unreachable") is still
        # answered: the page never waits on a message that was dropped.
        logger.exception("message failed")
        await answer_error(poster, connection_id, internal_error(), turn_id)


@entry_point(emits_metrics=False)
def handler(event: APIGatewayProxyEvent, context: LambdaContext) -> dict[str, Any]:
    ctx = event.request_context
    runtime.run(_handle(event.body, str(ctx.connection_id), poster_for(ctx)))
    return OK
