"""Powertools Logger, Tracer and Metrics shared by every handler module, and the decorators
each function's entry point wears."""

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="voicebot")
# Every AWS call goes through botocore (DynamoDB, @connections, Polly, Bedrock, Secrets Manager),
# so that is the one library traced. Patching all supported libraries also imported httpx (a
# LangChain dependency the functions never call) into every cold start: ~30 ms for nothing.
tracer = Tracer(service="voicebot", patch_modules=("botocore",))
metrics = Metrics(namespace="Voicebot", service="voicebot")

Handler = Callable[[APIGatewayProxyEvent, LambdaContext], dict[str, Any]]


def entry_point(*, emits_metrics: bool) -> Callable[[Handler], Callable[..., dict[str, Any]]]:
    """A function's Lambda entry point, outermost first: the invocation's context in every log
    line (cleared per call), a traced segment, the metrics flushed (for the functions that emit
    any; flushing none logs a warning), and the raw event as an ``APIGatewayProxyEvent``."""

    def wear(handler: Handler) -> Callable[..., dict[str, Any]]:
        wrapped: Callable[..., Any] = event_source(data_class=APIGatewayProxyEvent)(handler)
        if emits_metrics:
            wrapped = metrics.log_metrics(wrapped)
        wrapped = tracer.capture_lambda_handler(wrapped)
        return logger.inject_lambda_context(clear_state=True)(wrapped)

    return wear
