"""Connector proxy endpoints."""

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.connector_proxy.dialect import DIALECT
from api.dialect import DialectViewMixin


class ConnectorAPIView(DialectViewMixin, APIView):
    dialect = DIALECT


class LivenessView(ConnectorAPIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(responses={200: dict}, summary="Liveness")
    def get(self, request: Request) -> Response:
        return Response({"ok": True})
