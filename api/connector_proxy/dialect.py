"""The connector proxy's errors: an envelope too; the outer status equals `http_status`."""

from typing import Any

from api.connector_proxy.protocol import envelope
from api.dialect import Dialect
from api.errors import ApiError


def error_body(error: ApiError) -> dict[str, Any]:
    return envelope({}, http_status=error.status, error={"message": error.message, "error_code": error.code})


DIALECT = Dialect("connector", error_body)
