"""workflowdev's error shape and bare-array lists with `X-Total-Count`."""

from typing import Any

from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from api.dialect import Dialect
from api.errors import ApiError
from api.pagination import Window


def error_body(error: ApiError) -> dict[str, Any]:
    return {"error": {"code": error.code, "message": error.message, "details": error.details}}


DIALECT = Dialect("workflowdev", error_body)


class WorkflowDevPagination(BasePagination):
    """A bare JSON array; limit 50 by default, at most 1000; the total in `X-Total-Count`."""

    def paginate_queryset(self, queryset, request, view=None):  # type: ignore[override]
        self.window = Window(request.query_params, default=50)
        return self.window.apply(queryset)

    def get_paginated_response(self, data: list[Any]) -> Response:
        return Response(data, headers={"X-Total-Count": str(self.window.total)})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return schema
