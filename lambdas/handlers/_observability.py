"""Powertools Logger, Tracer and Metrics shared by every handler module, and the decorators
each function's entry point wears."""

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from voicebot.errors import ApiError

F = TypeVar("F", bound=Callable[..., Any])


class PrivateTracer(Tracer):
    """Powertools' Tracer, minus everything it would copy out of a call into X-Ray.

    Powertools records a traced function's return value and its raised exception as segment
    metadata by default: session tokens, history listings and transcripts would be kept in
    traces for 30 days, beyond ``DELETE /api/history``; the X-Ray SDK adds an exception's message
    and stack. It also logs every exception with its traceback, a 4xx included. Here a traced
    call records its name and timing only; a refused request (an ``ApiError`` under 500) notes
    its error code, anything else marks the subsegment as a fault with the exception's type
    name. Nothing else: no values, no messages, no request bodies (which were never recorded).
    """

    # Both decorators take Powertools' capture_response and capture_error, and ignore them:
    # nothing a call returns or raises is ever recorded.
    def capture_lambda_handler(self, lambda_handler: Any = None, *_: Any, **__: Any) -> Any:
        if lambda_handler is None:
            return self.capture_lambda_handler
        cold = [True]

        def annotate(subsegment: Any) -> None:
            subsegment.put_annotation(key="ColdStart", value=cold[0])
            subsegment.put_annotation(key="Service", value=self.service)
            cold[0] = False

        return self._traced(lambda_handler, f"## {lambda_handler.__name__}", annotate)

    def capture_method(self, method: Any = None, *_: Any, **__: Any) -> Any:
        if method is None:
            return self.capture_method
        return self._traced(method, f"## {method.__module__}.{method.__qualname__}")

    def _traced(self, fn: F, name: str, annotate: Callable[[Any], None] | None = None) -> F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def call_async(*args: Any, **kwargs: Any) -> Any:
                async with self.provider.in_subsegment_async(name=name) as segment:
                    if annotate is not None:
                        annotate(segment)
                    try:
                        return await fn(*args, **kwargs)
                    except Exception as exc:
                        failure = _note_failure(segment, exc)
                raise failure

            return cast(F, call_async)

        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            with self.provider.in_subsegment(name=name) as segment:
                if annotate is not None:
                    annotate(segment)
                try:
                    return fn(*args, **kwargs)
                except Exception as exc:
                    failure = _note_failure(segment, exc)
            raise failure

        return cast(F, call)


def _note_failure(segment: Any, exc: Exception) -> Exception:
    """Marks the subsegment (the X-Ray SDK's, or its disabled stand-in) with what failed: an
    error code, or the type of a fault. The caller raises the exception after leaving the
    subsegment, so the SDK never writes its message or stack into the trace."""
    if isinstance(exc, ApiError) and exc.status < 500:
        segment.put_annotation(key="ErrorCode", value=exc.code)
    else:
        segment.add_fault_flag()
        segment.put_annotation(key="Fault", value=type(exc).__name__)
    return exc


logger = Logger(service="voicebot")
# Every AWS call goes through botocore (DynamoDB, @connections, Polly, Bedrock, Secrets Manager),
# so that is the one library traced. Patching all supported libraries also imported httpx (a
# LangChain dependency the functions never call) into every cold start: ~30 ms for nothing.
# The X-Ray SDK records only whitelisted request parameters of botocore calls (table and
# function names, never items, texts or payloads).
tracer = PrivateTracer(service="voicebot", patch_modules=("botocore",))
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
