"""POST /api/transcripts — a device publishes a partial or final transcript to its user's pages."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from voicebot import runtime, wiring
from voicebot.contract import routes
from voicebot.contract.wire import TranscriptPost
from voicebot.http import HttpResponse, dispatch, json_body, require
from voicebot.protocol import parse_model
from voicebot.services.relay import PublishResult

from ._observability import entry_point, metrics, tracer


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


@entry_point(emits_metrics=True)
def handler(event: APIGatewayProxyEvent, context: LambdaContext) -> dict[str, Any]:
    return dispatch(event, {routes.PUBLISH_TRANSCRIPT: publish_transcript})
