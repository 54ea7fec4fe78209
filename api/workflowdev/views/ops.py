"""Health, readiness, Prometheus metrics and the audit log."""

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from rest_framework import mixins
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors
from accounts.models import AuditEntry
from api.workflowdev.filters import AuditFilterSet
from api.workflowdev.serializers import AuditEntrySerializer
from api.workflowdev.views.base import BAD_QUERY, WorkflowDevAPIView, WorkflowDevViewSet, page_response
from core.errors import Forbidden
from core.health import readiness, workers_seen
from core.metrics import REGISTRY


class HealthView(WorkflowDevAPIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(responses={200: dict}, summary="Liveness")
    def get(self, request: Request) -> Response:
        """Liveness: answers 200 while the process serves requests."""
        return Response({"status": "ok"})


class ReadyView(WorkflowDevAPIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(responses={200: dict, 503: dict}, summary="Readiness: database, broker, channel layer")
    def get(self, request: Request) -> Response:
        """Readiness: 200 when the database, the broker and the channel layer answer, 503 otherwise;
        `workers` says whether a worker's heartbeat arrived in the last minute (never a 503)."""
        ready, checks = readiness()
        body = {"status": "ok" if ready else "unavailable", "checks": checks, "workers": workers_seen()}
        return Response(body, status=200 if ready else 503)


class MetricsView(WorkflowDevAPIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(responses={(200, "text/plain"): str}, summary="Prometheus metrics")
    def get(self, request: Request) -> HttpResponse:
        """Metrics in the Prometheus text format."""
        return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


@extend_schema_view(
    list=extend_schema(
        summary="Recent audit entries",
        parameters=[
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses={
            200: page_response(AuditEntrySerializer),
            400: BAD_QUERY,
            403: OpenApiResponse(description="Only the admins of a namespace read its audit entries"),
        },
    )
)
class AuditViewSet(mixins.ListModelMixin, WorkflowDevViewSet):
    """Audit entries of the namespaces the caller administers."""

    serializer_class = AuditEntrySerializer
    filterset_class = AuditFilterSet

    queryset = AuditEntry.objects.none()  # for the schema; requests use the scoped selector

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.audit_list(account=self.request.user)

    def list(self, request: Request, *args, **kwargs) -> Response:
        """Audit entries of the namespaces the caller administers, newest first."""
        if selectors.administered_namespace_ids(request.user) == []:
            raise Forbidden("Reading the audit log needs the admin role.")
        return super().list(request, *args, **kwargs)
