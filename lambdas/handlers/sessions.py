"""POST /api/sessions, /api/sessions/refresh and /api/sessions/device — issue tokens for a
server-chosen user id (the last one: a device renews its own device token)."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from voicebot import wiring
from voicebot.contract import routes
from voicebot.contract.wire import SessionRequest
from voicebot.http import HttpResponse, dispatch, json_body, require
from voicebot.protocol import parse_model
from voicebot.tokens import bearer

from ._observability import entry_point, metrics, tracer


@tracer.capture_method
def create_session(event: APIGatewayProxyEvent) -> HttpResponse:
    # The body may be omitted entirely when the deployment has no access code.
    data = json_body(event) if event.body else {}
    request = parse_model(SessionRequest, data)
    session = wiring.session_service().create(request.accessCode)
    metrics.add_metric(name="SessionsCreated", unit=MetricUnit.Count, value=1)
    return HttpResponse(201, session)


@tracer.capture_method
def refresh_session(event: APIGatewayProxyEvent) -> HttpResponse:
    claims = require(event, "client")
    return HttpResponse(200, wiring.session_service().refresh(claims))


@tracer.capture_method
def refresh_device_token(event: APIGatewayProxyEvent) -> HttpResponse:
    # An expired device token may still be renewed within its session's maximum age: a device
    # that was switched off for a night comes back by itself.
    token = bearer(event.headers.get("Authorization"))
    claims = wiring.signer().verify(token, "device", allow_expired=True)
    return HttpResponse(200, wiring.session_service().refresh_device(claims))


ROUTES = {
    routes.CREATE_SESSION: create_session,
    routes.REFRESH_SESSION: refresh_session,
    routes.REFRESH_DEVICE_TOKEN: refresh_device_token,
}


@entry_point(emits_metrics=True)
def handler(event: APIGatewayProxyEvent, context: LambdaContext) -> dict[str, Any]:
    return dispatch(event, ROUTES)
