"""What every FlowRunner view shares: the error shape and the list envelope."""

from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.dialect import DialectViewMixin
from api.filtering import DialectFilterBackend
from api.flowrunner.dialect import DIALECT, FlowRunnerPagination


class FlowRunnerAPIView(DialectViewMixin, APIView):
    dialect = DIALECT

    def paginated(
        self, request: Request, queryset: QuerySet, key: str, serializer: type[serializers.BaseSerializer]
    ) -> Response:
        """`{"<key>": [...], "total", "limit", "offset"}` (limit 10 by default, at most 1000)."""
        paginator = FlowRunnerPagination()
        self.results_key = key
        page: list[Any] = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(serializer(page, many=True).data)


class FlowRunnerViewSet(DialectViewMixin, viewsets.GenericViewSet):
    dialect = DIALECT
    pagination_class = FlowRunnerPagination
    filter_backends = (DialectFilterBackend,)
