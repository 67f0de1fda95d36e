"""POST /api/sessions and POST /api/sessions/refresh — issue tokens for a server-chosen user id."""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from voicebot import wiring
from voicebot.http import json_body, require, rest_resolver
from voicebot.protocol import SessionRequest, parse_model

from ._observability import logger, metrics, tracer

app = rest_resolver()


@app.post("/api/sessions")
@tracer.capture_method
def create_session() -> Response[dict[str, Any]]:
    # The body may be omitted entirely when the deployment has no access code.
    data = json_body(app) if app.current_event.body else {}
    request = parse_model(SessionRequest, data)
    session = wiring.session_service().create(request.accessCode)
    metrics.add_metric(name="SessionsCreated", unit=MetricUnit.Count, value=1)
    return Response(status_code=201, content_type="application/json", body=session)


@app.post("/api/sessions/refresh")
@tracer.capture_method
def refresh_session() -> dict[str, Any]:
    claims = require(app, "client")
    return wiring.session_service().refresh(claims)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
