"""FlowRunner's error shape and list envelope."""

from typing import Any

from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from api.dialect import Dialect
from api.errors import ApiError
from api.pagination import TOTAL_NOTE, Window


def error_body(error: ApiError) -> dict[str, Any]:
    return {"error": {"code": error.code, "message": error.message, "details": error.details}}


DIALECT = Dialect("flowrunner", error_body)


class FlowRunnerPagination(BasePagination):
    """`{"<plural>": [...], "total", "limit", "offset"}`; limit 10 by default, at most 1000."""

    def paginate_queryset(self, queryset, request, view=None):  # type: ignore[override]
        self.window = Window(request.query_params, default=10)
        self.results_key = getattr(view, "results_key", "results")
        return self.window.apply(queryset)

    def get_paginated_response(self, data: list[Any]) -> Response:
        window = self.window
        return Response({self.results_key: data, "total": window.total, "limit": window.limit, "offset": window.offset})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "results": schema,
                "total": {"type": "integer", "description": TOTAL_NOTE},
                "limit": {"type": "integer"},
                "offset": {"type": "integer"},
            },
        }
