"""Errors that map onto the protocol's error body: ``{"error": {"code", "message"}}``."""

from __future__ import annotations

from .contract.wire import INTERNAL_ERROR, RATE_LIMITED


class ApiError(Exception):
    """A failure the client is told about, with an HTTP status and a snake_case code."""

    def __init__(
        self, status: int, code: str, message: str, *, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        # Seconds until the same request may succeed (a 429's Retry-After), when known.
        self.retry_after = retry_after

    def body(self) -> dict[str, dict[str, str | int]]:
        error: dict[str, str | int] = {"code": self.code, "message": self.message}
        if self.retry_after is not None:
            error["retryAfter"] = self.retry_after
        return {"error": error}


class QuotaExceeded(ApiError):
    """A user's quota is spent until its window resets: nothing billable was started."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(429, "quota_exceeded", message, retry_after=retry_after)


def bad_request(message: str, code: str = "bad_request") -> ApiError:
    return ApiError(400, code, message)


def unauthorized(message: str = "A valid token is required.") -> ApiError:
    return ApiError(401, "unauthorized", message)


def service_unavailable(message: str = "A backing service is unavailable; try again.") -> ApiError:
    return ApiError(503, "service_unavailable", message)


def internal_error(message: str = "Something went wrong on our side.") -> ApiError:
    return ApiError(500, INTERNAL_ERROR, message)


def rate_limited(
    message: str = "Too many requests at once from this user; try again shortly.",
) -> ApiError:
    return ApiError(429, RATE_LIMITED, message)


class ConnectionUnknown(ApiError):
    """The connection is not (or no longer) in the registry, e.g. after Redis lost its keys:
    the page is told ``unauthorized`` and the connection is closed, so that it reconnects."""

    def __init__(self) -> None:
        super().__init__(401, "unauthorized", "This connection is not signed in; reconnect.")


class ServiceUnavailable(Exception):
    """Raised by adapters when Redis, DynamoDB or another backing service cannot be reached."""


class ProviderError(Exception):
    """A model or speech provider failed; adapters translate their vendor's errors into this.

    ``retryable`` says whether the same request may succeed later (throttling, a 5xx, a dropped
    connection) or never will (a refused model id, bad input). ``code`` is the protocol's error
    code the page is told. The core decides on these fields, never on vendor class names.
    """

    code = "provider_error"

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class ProviderThrottled(ProviderError):
    """Raised when a model or speech provider keeps throttling after retries."""

    code = "throttled"

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)
