"""Turn any exception into one neutral `ApiError`; each dialect renders it in its own shape."""

import logging
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions as drf

from core.errors import MillraceError

logger = logging.getLogger("millrace.api")

_DRF_CODES: list[tuple[type[Exception], int, str]] = [
    (drf.ParseError, 400, "invalid_request"),
    (drf.NotAuthenticated, 401, "unauthorized"),
    (drf.AuthenticationFailed, 401, "unauthorized"),
    (drf.PermissionDenied, 403, "forbidden"),
    (drf.NotFound, 404, "not_found"),
    (drf.MethodNotAllowed, 405, "method_not_allowed"),
    (drf.NotAcceptable, 406, "not_acceptable"),
    (drf.UnsupportedMediaType, 415, "unsupported_media_type"),
    (drf.Throttled, 429, "too_many_requests"),
]

STATUS_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    500: "internal_error",
    503: "service_unavailable",
}

STATUS_MESSAGES = {
    400: "The request was invalid.",
    401: "Authentication is required.",
    403: "You do not have permission to do this.",
    404: "The requested resource was not found.",
    405: "This method is not allowed here.",
    413: "The request body is too large.",
    500: "An internal server error occurred.",
    503: "The database is unavailable for a moment; try again.",
}


@dataclass(frozen=True)
class ApiError:
    status: int
    code: str
    message: str
    details: Any = None
    auth_header: str | None = None


def error_for_status(status: int, message: str | None = None) -> ApiError:
    return ApiError(status, STATUS_CODES.get(status, "error"), message or STATUS_MESSAGES.get(status, "Error."))


def _detail_text(detail: Any) -> str:
    if isinstance(detail, dict):
        if "detail" in detail:
            return _detail_text(detail["detail"])
        return "; ".join(f"{key}: {_detail_text(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return "; ".join(_detail_text(item) for item in detail)
    return str(detail)


def _field_problems(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """Flatten DRF's nested validation errors into [{"field", "reason"}]."""
    if isinstance(detail, dict):
        problems: list[dict[str, str]] = []
        for key, value in detail.items():
            name = "" if key == "non_field_errors" else str(key)
            problems += _field_problems(value, f"{prefix}.{name}" if prefix and name else prefix or name)
        return problems
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [{"field": prefix, "reason": str(item)} for item in detail]
        problems = []
        for index, item in enumerate(detail):
            problems += _field_problems(item, f"{prefix}[{index}]")
        return problems
    return [{"field": prefix, "reason": str(detail)}]


def shape_details(details: Any) -> Any:
    """Details as the seed shows them (`field`, `reason`) with every problem under `errors`."""
    if isinstance(details, list) and details and all(isinstance(item, dict) for item in details):
        first = details[0]
        return {
            "field": first.get("field", first.get("path", "")),
            "reason": first.get("reason", first.get("message", "")),
            "errors": details,
        }
    return details


def api_error_from_exception(exc: Exception) -> ApiError:
    if isinstance(exc, MillraceError):
        return ApiError(exc.status, exc.code, exc.message, shape_details(exc.details))
    if isinstance(exc, drf.ValidationError):
        problems = _field_problems(exc.detail)
        message = "; ".join(f"{p['field']}: {p['reason']}" if p["field"] else p["reason"] for p in problems)
        return ApiError(422, "validation_error", message or "The request failed validation.", shape_details(problems))
    if isinstance(exc, RequestDataTooBig):
        return error_for_status(413)
    if isinstance(exc, Http404):
        return error_for_status(404)
    if isinstance(exc, DjangoPermissionDenied):
        return error_for_status(403)
    for exc_type, status, code in _DRF_CODES:
        if isinstance(exc, exc_type):
            return ApiError(status, code, _detail_text(exc.detail), auth_header=getattr(exc, "auth_header", None))
    if isinstance(exc, drf.APIException):
        return ApiError(exc.status_code, STATUS_CODES.get(exc.status_code, "error"), _detail_text(exc.detail))
    if isinstance(exc, OperationalError | InterfaceError):
        # the database restarting or out of connections: a passing failure, worth a retry
        logger.warning("Database unavailable: %s", exc)
        return error_for_status(503)
    logger.exception("Unhandled error", exc_info=exc)
    return error_for_status(500)
