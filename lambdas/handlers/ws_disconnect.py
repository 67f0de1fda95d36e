"""WebSocket ``$disconnect`` — forget the connection so nothing is posted to it again."""

from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from voicebot import runtime, wiring
from voicebot.errors import ServiceUnavailable

from ._observability import entry_point, logger


@entry_point(emits_metrics=False)
def handler(event: APIGatewayProxyEvent, context: LambdaContext) -> dict[str, Any]:
    try:
        runtime.run(
            wiring.connection_registry().unregister(str(event.request_context.connection_id))
        )
    except ServiceUnavailable:
        # The registry entry expires by itself, and a post to a gone connection removes it too.
        logger.warning("could not unregister the connection")
    return {"statusCode": 200}
