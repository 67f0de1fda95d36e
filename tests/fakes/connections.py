"""The errors API Gateway's ``@connections`` API answers, for moto's backend to raise in tests."""

from __future__ import annotations

from moto.core.exceptions import ServiceException


class GoneException(ServiceException):
    code = "GoneException"
    message = "The connection is gone."


class ForbiddenException(ServiceException):
    code = "ForbiddenException"
    message = "Forbidden"


class PayloadTooLargeException(ServiceException):
    code = "PayloadTooLargeException"
    message = "Too large"
