"""workflowsvc's underscore error shape and `_list` envelope."""

from typing import Any

from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from api.dialect import Dialect
from api.errors import ApiError
from api.pagination import Window


def error_body(error: ApiError) -> dict[str, Any]:
    return {"_error": {"_code": error.code, "_message": error.message, "_details": error.details}}


DIALECT = Dialect("workflowsvc", error_body)


class WorkflowSvcPagination(BasePagination):
    """`{"_offset", "_pageSize", "_total", "_list"}`; `_pagesize`/`_pageSize` 10 by default."""

    def paginate_queryset(self, queryset, request, view=None):  # type: ignore[override]
        self.window = Window(
            request.query_params, default=10, limit_names=("_pagesize", "_pageSize"), offset_names=("_offset",)
        )
        return self.window.apply(queryset)

    def get_paginated_response(self, data: list[Any]) -> Response:
        window = self.window
        return Response({"_offset": window.offset, "_pageSize": window.limit, "_total": window.total, "_list": data})
