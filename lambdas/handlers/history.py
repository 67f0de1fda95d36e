"""GET /api/history and DELETE /api/history — the caller's own turns, nobody else's."""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from voicebot import runtime, wiring
from voicebot.errors import bad_request
from voicebot.http import require, rest_resolver

from ._observability import logger, metrics, tracer

app = rest_resolver()


def _limit() -> int:
    raw = (app.current_event.query_string_parameters or {}).get("limit")
    if raw is None:
        return 20
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise bad_request("limit must be an integer from 1 to 100.")
    return int(raw)


@app.get("/api/history")
@tracer.capture_method
def list_history() -> dict[str, Any]:
    claims = require(app, "client")
    return runtime.run(wiring.history_service().list(claims.user_id, _limit()))


@app.delete("/api/history")
@tracer.capture_method
def clear_history() -> Response[str]:
    claims = require(app, "client")
    runtime.run(wiring.history_service().clear(claims.user_id))
    return Response(status_code=204, body="")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
