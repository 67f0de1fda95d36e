"""GET /api/history and DELETE /api/history — the caller's own turns, nobody else's."""

import re
from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from voicebot import runtime, wiring
from voicebot.contract import routes
from voicebot.errors import bad_request
from voicebot.http import HttpResponse, dispatch, require

from ._observability import entry_point, tracer

_LIMIT = re.compile(r"[0-9]{1,3}")


def _limit(event: APIGatewayProxyEvent) -> int:
    raw = (event.query_string_parameters or {}).get("limit")
    if raw is None:
        return 20
    # ASCII digits only: str.isdigit() accepts "²" and "١", which int() then refuses (or reads),
    # and int() refuses more than 4300 digits; three digits are all 1..100 needs.
    if not _LIMIT.fullmatch(raw) or not 1 <= int(raw) <= 100:
        raise bad_request("limit must be an integer from 1 to 100.")
    return int(raw)


@tracer.capture_method
def list_history(event: APIGatewayProxyEvent) -> HttpResponse:
    claims = require(event, "client")
    limit = _limit(event)
    return HttpResponse(200, runtime.run(wiring.history_service().list(claims.user_id, limit)))


@tracer.capture_method
def clear_history(event: APIGatewayProxyEvent) -> HttpResponse:
    claims = require(event, "client")
    runtime.run(wiring.history_service().clear(claims.user_id))
    return HttpResponse(204)


ROUTES = {routes.LIST_HISTORY: list_history, routes.CLEAR_HISTORY: clear_history}


@entry_point(emits_metrics=True)
def handler(event: APIGatewayProxyEvent, context: LambdaContext) -> dict[str, Any]:
    return dispatch(event, ROUTES)
