"""POST /api/transcripts — a device publishes a partial or final transcript to its user's pages."""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from voicebot import runtime, wiring
from voicebot.http import json_body, require, rest_resolver
from voicebot.protocol import TranscriptPost, parse_model

from ._observability import logger, metrics, tracer

app = rest_resolver()


@app.post("/api/transcripts")
@tracer.capture_method
def publish_transcript() -> Response[dict[str, Any]]:
    claims = require(app, "device")
    post = parse_model(TranscriptPost, json_body(app))
    result = runtime.run(wiring.transcript_relay().publish(claims.user_id, post))
    metrics.add_metric(name="TranscriptsDelivered", unit=MetricUnit.Count, value=result.delivered)
    return Response(
        status_code=202,
        content_type="application/json",
        body={"id": result.event_id, "delivered": result.delivered},
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
