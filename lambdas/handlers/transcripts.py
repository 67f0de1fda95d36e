"""A transcript into the user's relay: a device's ``POST /api/transcripts``, or the page's own
microphone's ``transcript`` action on its WebSocket (Amazon Transcribe in the browser).

Both are the same :class:`~voicebot.contract.wire.TranscriptPost` and take the same path: the
user's fairness cap, then ``TranscriptRelay.publish`` (stored, delivered to every open page,
replayable, and read by turn-taking alike).
"""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from voicebot import runtime, wiring
from voicebot.contract import routes
from voicebot.contract.wire import TranscriptAction, TranscriptPost
from voicebot.errors import ApiError, ServiceUnavailable, internal_error, service_unavailable
from voicebot.http import HttpResponse, dispatch, json_body, require
from voicebot.ports import ConnectionPoster
from voicebot.protocol import parse_client_action, parse_model
from voicebot.services.relay import PublishResult
from voicebot.websocket import OK, answer_error, poster_for, signed_in

from ._observability import entry_point, logger, metrics, tracer


async def _publish(user_id: str, post: TranscriptPost) -> PublishResult:
    # Within the user's fairness cap (429 rate_limited past it), so a flood stays that user's.
    async with wiring.fairness().admit(f"u:{user_id}"):
        return await wiring.transcript_relay().publish(user_id, post)


@tracer.capture_method
def publish_transcript(event: APIGatewayProxyEvent) -> HttpResponse:
    claims = require(event, "device")
    post = parse_model(TranscriptPost, json_body(event))
    result = runtime.run(_publish(claims.user_id, post))
    metrics.add_metric(name="TranscriptsDelivered", unit=MetricUnit.Count, value=result.delivered)
    return HttpResponse(202, {"id": result.event_id, "delivered": result.delivered})


async def _page_transcript(body: str | None, connection_id: str, poster: ConnectionPoster) -> None:
    """The page hears its own post come back as a ``transcript`` event (every page of the user
    does); a refusal (``utterance_closed``, ``rate_limited``, a bad field) is an ``error``."""
    try:
        action = parse_client_action(body, max_bytes=wiring.max_body_bytes())
        if not isinstance(action, TranscriptAction):
            raise ApiError(400, "wrong_route", "Only transcript is handled by this route.")
        async with signed_in(connection_id) as user_id:
            result = await wiring.transcript_relay().publish(user_id, action.post())
        metrics.add_metric(
            name="TranscriptsDelivered", unit=MetricUnit.Count, value=result.delivered
        )
    except ApiError as exc:
        await answer_error(poster, connection_id, exc)
    except ServiceUnavailable:
        await answer_error(poster, connection_id, service_unavailable())
    except Exception:
        logger.exception("page transcript failed")
        await answer_error(poster, connection_id, internal_error())


@entry_point(emits_metrics=True)
def handler(event: APIGatewayProxyEvent, context: LambdaContext) -> dict[str, Any]:
    ctx = event.request_context
    if ctx.connection_id:  # the WebSocket API's transcript route
        runtime.run(_page_transcript(event.body, str(ctx.connection_id), poster_for(ctx)))
        return OK
    return dispatch(event, {routes.PUBLISH_TRANSCRIPT: publish_transcript})
