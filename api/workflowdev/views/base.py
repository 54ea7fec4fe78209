"""What every workflowdev view shares: the error shape and bare-array lists."""

from rest_framework import viewsets
from rest_framework.views import APIView

from api.dialect import DialectViewMixin
from api.workflowdev.dialect import DIALECT, WorkflowDevPagination


class WorkflowDevAPIView(DialectViewMixin, APIView):
    dialect = DIALECT


class WorkflowDevViewSet(DialectViewMixin, viewsets.GenericViewSet):
    dialect = DIALECT
    pagination_class = WorkflowDevPagination
