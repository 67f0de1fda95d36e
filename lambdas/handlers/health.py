"""GET /api/health — no auth, no backing service: says the API answers."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from voicebot.http import rest_resolver

from ._observability import logger

app = rest_resolver()


@app.get("/api/health")
def health() -> dict[str, bool]:
    return {"ok": True}


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
