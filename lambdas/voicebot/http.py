"""REST plumbing shared by the handlers: one resolver shape, one error body, no tracebacks."""

from __future__ import annotations

import base64
import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.exceptions import ServiceError

from . import wiring
from .config import service_settings
from .errors import ApiError, ProviderThrottled, ServiceUnavailable
from .protocol import parse_json_object
from .tokens import Claims, Scope, bearer

logger = Logger(child=True)


def _error(status: int, code: str, message: str | Any) -> Response[str]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps({"error": {"code": code, "message": str(message)}}, ensure_ascii=False),
    )


def rest_resolver() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(
        cors=CORSConfig(
            allow_origin=service_settings().cors_origin,
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        ),
        serializer=lambda obj: json.dumps(obj, ensure_ascii=False, separators=(",", ":")),
    )

    @app.exception_handler(ApiError)
    def _api_error(exc: ApiError) -> Response[str]:
        return _error(exc.status, exc.code, exc.message)

    @app.exception_handler(ServiceUnavailable)
    def _unavailable(exc: ServiceUnavailable) -> Response[str]:
        logger.warning("backing service unavailable", extra={"reason": str(exc)})
        return _error(503, "service_unavailable", "A backing service is unavailable; try again.")

    @app.exception_handler(ProviderThrottled)
    def _throttled(exc: ProviderThrottled) -> Response[str]:
        return _error(429, "throttled", "The service is busy; please retry shortly.")

    @app.exception_handler(ServiceError)
    def _service_error(exc: ServiceError) -> Response[str]:
        return _error(exc.status_code, "bad_request", exc.msg)

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[str]:
        # Logged with its traceback for the operator; the client only learns that it failed.
        logger.exception("unhandled error")
        return _error(500, "internal_error", "Something went wrong on our side.")

    @app.not_found
    def _not_found(exc: Exception) -> Response[str]:
        return _error(404, "not_found", "No such route.")

    return app


def json_body(app: APIGatewayRestResolver) -> dict[str, Any]:
    event = app.current_event
    raw: str | bytes | None = event.body
    if raw is not None and event.is_base64_encoded:
        try:
            raw = base64.b64decode(raw)
        except ValueError:
            raise ApiError(400, "invalid_json", "The request body is not valid base64.") from None
    return parse_json_object(raw, max_bytes=wiring.max_body_bytes())


def require(app: APIGatewayRestResolver, scope: Scope) -> Claims:
    token = bearer(app.current_event.headers.get("Authorization"))
    return wiring.signer().verify(token, scope)
