"""Domain errors raised by services and selectors.

Each dialect's exception handler turns these into its own error shape, so a service
never knows which API called it.
"""

from typing import Any


class MillraceError(Exception):
    """Base of every error a service raises on purpose."""

    status = 400
    code = "invalid_request"

    def __init__(self, message: str, *, details: Any = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code:
            self.code = code


class BadRequest(MillraceError):
    status = 400
    code = "invalid_request"


class NotAuthenticated(MillraceError):
    status = 401
    code = "unauthorized"


class Forbidden(MillraceError):
    status = 403
    code = "forbidden"


class NotFound(MillraceError):
    status = 404
    code = "not_found"


class Conflict(MillraceError):
    status = 409
    code = "conflict"


class PayloadTooLarge(MillraceError):
    status = 413
    code = "payload_too_large"


class ValidationFailed(MillraceError):
    """A body that parses but breaks the rules; `details` lists every problem."""

    status = 422
    code = "validation_error"
