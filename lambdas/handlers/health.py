"""GET /api/health — no auth: says the API answers, and whether its backing services do.

200 ``{"ok": true, "services": {...}}`` while every service this function is configured for
answers; 503 with ``"ok": false``, the service marked ``"down"`` and the protocol's error object
when one does not (docs/PROTOCOL.md). Deployed, the function probes Redis (one read); the local
stack's handlers are configured for Redis and DynamoDB, so its health reports both.
"""

from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from voicebot import runtime, wiring
from voicebot.contract import routes
from voicebot.http import HttpResponse, dispatch

from ._observability import logger


def health(event: APIGatewayProxyEvent) -> HttpResponse:
    report = runtime.run(wiring.health_check().report())
    body: dict[str, Any] = {"ok": report.ok, "services": report.services}
    if report.ok:
        return HttpResponse(200, body)
    down = ", ".join(report.down)
    body["error"] = {"code": "service_unavailable", "message": f"Not answering: {down}."}
    return HttpResponse(503, body, headers={"Cache-Control": "no-store"})


@logger.inject_lambda_context(clear_state=True)
@event_source(data_class=APIGatewayProxyEvent)
def handler(event: APIGatewayProxyEvent, context: LambdaContext) -> dict[str, Any]:
    return dispatch(event, {routes.HEALTH: health})
