"""POST /api/transcribe/stream — a pre-signed Amazon Transcribe streaming URL for the page."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from voicebot import runtime, wiring
from voicebot.contract import routes
from voicebot.contract.wire import TranscribeStream, TranscribeStreamRequest
from voicebot.errors import QuotaExceeded
from voicebot.http import HttpResponse, dispatch, json_body, require
from voicebot.protocol import parse_model

from ._observability import entry_point, metrics, tracer


@tracer.capture_method
def open_stream(event: APIGatewayProxyEvent) -> HttpResponse:
    claims = require(event, "client")
    request = parse_model(TranscribeStreamRequest, json_body(event))
    stream = runtime.run(_open(claims.user_id, request.lang))
    # The URL is a credential for its short life: never logged, and not cached on the way.
    return HttpResponse(200, stream.model_dump())


async def _open(user_id: str, lang: str | None) -> TranscribeStream:
    async with wiring.fairness().admit(f"u:{user_id}"):
        try:
            return await wiring.transcribe_streams().open_for(user_id, lang)
        except QuotaExceeded:
            metrics.add_metric(name="QuotaExceeded", unit=MetricUnit.Count, value=1)
            raise


@entry_point(emits_metrics=True)
def handler(event: APIGatewayProxyEvent, context: LambdaContext) -> dict[str, Any]:
    return dispatch(event, {routes.TRANSCRIBE_STREAM: open_stream})
