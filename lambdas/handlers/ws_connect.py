"""WebSocket ``$connect`` — check the client token from the query string, register the connection.

A refused token returns 401, which API Gateway turns into a refused handshake: the socket is
never accepted, so nothing about the user leaks to an unauthenticated page.
"""

from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from voicebot import runtime, wiring
from voicebot.errors import ApiError, ServiceUnavailable

from ._observability import entry_point, logger


@entry_point(emits_metrics=False)
def handler(event: APIGatewayProxyEvent, context: LambdaContext) -> dict[str, Any]:
    token = (event.query_string_parameters or {}).get("token")
    connection_id = event.request_context.connection_id
    try:
        claims = wiring.signer().verify(token, "client")
        runtime.run(wiring.connection_registry().register(claims.user_id, str(connection_id)))
    except ApiError as exc:
        logger.info("connection refused", extra={"reason": exc.code})
        return {"statusCode": 401}
    except ServiceUnavailable:
        logger.warning("connection refused: backing service unavailable")
        return {"statusCode": 503}
    return {"statusCode": 200}
