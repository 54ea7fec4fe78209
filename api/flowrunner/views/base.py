"""What every FlowRunner view shares: the error shape and the list envelope."""

from rest_framework import viewsets
from rest_framework.views import APIView

from api.dialect import DialectViewMixin
from api.flowrunner.dialect import DIALECT, FlowRunnerPagination


class FlowRunnerAPIView(DialectViewMixin, APIView):
    dialect = DIALECT


class FlowRunnerViewSet(DialectViewMixin, viewsets.GenericViewSet):
    dialect = DIALECT
    pagination_class = FlowRunnerPagination
