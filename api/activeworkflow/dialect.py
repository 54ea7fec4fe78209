"""ActiveWorkflow's error shape: `{"error": "<short description>"}`."""

from typing import Any

from api.dialect import Dialect
from api.errors import ApiError


def error_body(error: ApiError) -> dict[str, Any]:
    return {"error": error.message}


DIALECT = Dialect("activeworkflow", error_body)
