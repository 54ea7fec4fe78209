"""What every workflowdev view shares: the error shape, bare-array lists, namespaces in bodies."""

from collections.abc import Iterable
from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Account, Namespace
from accounts.selectors import namespace_get
from accounts.services import namespace_create, namespace_home
from api.dialect import DialectViewMixin
from api.filtering import DialectFilterBackend
from api.pagination import TOTAL_NOTE
from api.workflowdev.dialect import DIALECT, WorkflowDevPagination
from core.errors import NotFound


class WorkflowDevAPIView(DialectViewMixin, APIView):
    dialect = DIALECT


class WorkflowDevViewSet(DialectViewMixin, viewsets.GenericViewSet):
    dialect = DIALECT
    pagination_class = WorkflowDevPagination
    filter_backends = (DialectFilterBackend,)


#: A write the caller's role does not allow (viewers read; executors run; editors write).
ROLE_REFUSED = OpenApiResponse(description="The caller's role in the namespace does not allow it")
BAD_QUERY = OpenApiResponse(description="A query parameter that is not a valid value")

PAGE_PARAMETERS = [
    OpenApiParameter("limit", int, description="Default 50, at most 1000."),
    OpenApiParameter("offset", int),
]


def page_response(serializer: type[serializers.Serializer], description: str = "") -> OpenApiResponse:
    """A bare array of `serializer`, with the total in `X-Total-Count`."""
    description = description or f"The total is in X-Total-Count. {TOTAL_NOTE}"
    return OpenApiResponse(serializer(many=True), description=description)


def paginate(
    view: APIView, request: Request, items: Iterable[Any], serializer: type[serializers.Serializer], **kwargs: Any
) -> Response:
    """A bare array page of `items` rendered by `serializer` (limit 50 by default, at most 1000)."""
    paginator = WorkflowDevPagination()
    page = paginator.paginate_queryset(items, request, view)
    return paginator.get_paginated_response(serializer(page, many=True, **kwargs).data)


def body_namespace(account: Account, name: str | None) -> Namespace:
    """The namespace a body names (default: the caller's own).

    Unknown or unreadable: 404, except for a global admin, for whom it is created (DIALECTS.md).
    """
    name = (name or "").strip()
    if not name:
        return namespace_home(account=account)
    try:
        return namespace_get(account=account, name=name)
    except NotFound:
        if not account.is_global_admin:
            raise
        return namespace_create(actor=account, name=name)
