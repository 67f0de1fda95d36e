"""REST plumbing shared by the handlers: routing, one error body, no tracebacks.

Deliberately not Powertools' ``APIGatewayRestResolver``: it keeps the current event on a class
attribute shared by every resolver in the process, which is right for Lambda (one event per
instance at a time) but makes overlapping calls read each other's requests wherever the handlers
run concurrently in one process — the local stack does. Everything here is per call.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from . import wiring
from .config import service_settings
from .contract.routes import RestRoute
from .errors import ApiError, ProviderThrottled, ServiceUnavailable
from .protocol import parse_json_object
from .tokens import Claims, Scope, bearer

logger = Logger(child=True)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: Any = None  # JSON-serialisable, bytes (binary), or None (no body)
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


Route = Callable[[APIGatewayProxyEvent], HttpResponse]


def _error(status: int, code: str, message: str) -> HttpResponse:
    return HttpResponse(status, {"error": {"code": code, "message": message}})


def _proxy_response(response: HttpResponse) -> dict[str, Any]:
    headers = {
        "Access-Control-Allow-Origin": service_settings().cors_origin,
        "Cache-Control": "no-store",
        **response.headers,
    }
    result: dict[str, Any] = {"statusCode": response.status, "headers": headers}
    if response.body is None:
        result["body"] = ""
        return result
    headers["Content-Type"] = response.content_type
    if isinstance(response.body, bytes):
        result["body"] = base64.b64encode(response.body).decode("ascii")
        result["isBase64Encoded"] = True
    else:
        result["body"] = json.dumps(response.body, ensure_ascii=False, separators=(",", ":"))
        result["isBase64Encoded"] = False
    return result


def dispatch(event: APIGatewayProxyEvent, routes: Mapping[RestRoute, Route]) -> dict[str, Any]:
    """Run the route for this method and path; map every failure to the protocol's error body.

    ``routes`` maps the contract's route objects (``voicebot.contract.routes``) to this
    function's implementations of them, so no path is written twice.
    """
    method, path = event.http_method.upper(), event.path.rstrip("/") or "/"
    route = next((fn for r, fn in routes.items() if (r.method, r.path) == (method, path)), None)
    try:
        if route is None:
            if method == "OPTIONS" and any(r.path == path for r in routes):
                return _proxy_response(_preflight(routes, path))
            raise ApiError(404, "not_found", "No such route.")
        return _proxy_response(route(event))
    except ApiError as exc:
        headers = {} if exc.retry_after is None else {"Retry-After": str(exc.retry_after)}
        return _proxy_response(HttpResponse(exc.status, exc.body(), headers=headers))
    except ServiceUnavailable as exc:
        logger.warning("backing service unavailable", extra={"reason": str(exc)})
        return _proxy_response(
            _error(503, "service_unavailable", "A backing service is unavailable; try again.")
        )
    except ProviderThrottled:
        return _proxy_response(_error(429, "throttled", "The service is busy; retry shortly."))
    except Exception:
        # Logged with its traceback for the operator; the client only learns that it failed.
        logger.exception("unhandled error")
        return _proxy_response(_error(500, "internal_error", "Something went wrong on our side."))


def _preflight(routes: Mapping[RestRoute, Route], path: str) -> HttpResponse:
    methods = sorted({r.method for r in routes if r.path == path} | {"OPTIONS"})
    return HttpResponse(
        204,
        headers={
            "Access-Control-Allow-Methods": ",".join(methods),
            "Access-Control-Allow-Headers": "Authorization,Content-Type",
            "Access-Control-Max-Age": "600",
        },
    )


def json_body(event: APIGatewayProxyEvent) -> dict[str, Any]:
    raw: str | bytes | None = event.body
    if raw is not None and event.is_base64_encoded:
        try:
            raw = base64.b64decode(raw)
        except ValueError:
            raise ApiError(400, "invalid_json", "The request body is not valid base64.") from None
    return parse_json_object(raw, max_bytes=wiring.max_body_bytes())


def require(event: APIGatewayProxyEvent, scope: Scope) -> Claims:
    token = bearer(event.headers.get("Authorization"))
    return wiring.signer().verify(token, scope)
