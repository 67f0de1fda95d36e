"""GET /api/health — no auth, no backing service: says the API answers."""

from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from voicebot.contract import routes
from voicebot.http import HttpResponse, dispatch

from ._observability import logger


def health(event: APIGatewayProxyEvent) -> HttpResponse:
    return HttpResponse(200, {"ok": True})


@logger.inject_lambda_context(clear_state=True)
@event_source(data_class=APIGatewayProxyEvent)
def handler(event: APIGatewayProxyEvent, context: LambdaContext) -> dict[str, Any]:
    return dispatch(event, {routes.HEALTH: health})
