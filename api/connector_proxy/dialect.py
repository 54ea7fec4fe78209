"""The connector proxy envelope, errors included; the outer status equals `http_status`."""

from typing import Any

from api.dialect import Dialect
from api.errors import ApiError

COMMAND_RESPONSE_VERSION = 2


def envelope(
    body: Any, *, http_status: int, error: dict[str, str] | None = None, logs: list[str] | None = None
) -> dict[str, Any]:
    return {
        "command_response": {"body": body, "mimetype": "application/json", "http_status": http_status},
        "command_response_version": COMMAND_RESPONSE_VERSION,
        "error": error,
        "spiff__logs": logs or [],
    }


def error_body(error: ApiError) -> dict[str, Any]:
    return envelope({}, http_status=error.status, error={"message": error.message, "error_code": error.code})


DIALECT = Dialect("connector", error_body)
