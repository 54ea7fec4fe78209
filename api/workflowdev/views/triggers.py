"""Triggers (CRUD) and the open webhook endpoint that fires them."""

from django.conf import settings
from django.http import QueryDict
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, OpenApiTypes, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.roles import Role, at_least
from accounts.selectors import role_in
from api.filtering import FilteredListMixin
from api.parsers import JSONParser
from api.workflowdev.filters import TriggerFilterSet
from api.workflowdev.parsers import RawBodyParser
from api.workflowdev.serializers.resources import (
    BackfillResponseSerializer,
    BackfillSerializer,
    TriggerSerializer,
    TriggerWriteSerializer,
    WebhookResponseSerializer,
)
from api.workflowdev.views.base import PAGE_PARAMETERS, ROLE_REFUSED, WorkflowDevAPIView, page_response, paginate
from core.errors import ValidationFailed
from executions.listening import execution_wait
from executions.triggers import trigger_backfill, webhook_fire
from flows import selectors
from flows.models import Trigger
from flows.triggers import trigger_create, trigger_delete, trigger_update

NOT_FOUND = OpenApiResponse(description="Not found (or in a namespace you cannot read)")
INVALID = OpenApiResponse(
    description="Invalid trigger (cron, timezone, statuses), or a chosen key refused: too short, not random "
    "enough or already used, all with the same answer"
)


def _context(request: Request) -> dict:
    """Webhook keys are credentials: shown to those who may fire them (executor and up)."""

    def can_fire(trigger: Trigger) -> bool:
        return at_least(role_in(request.user, trigger.flow.namespace_id), Role.EXECUTOR)

    return {"can_fire": can_fire}


class TriggerListView(FilteredListMixin, WorkflowDevAPIView):
    filterset_class = TriggerFilterSet
    queryset = Trigger.objects.none()  # the model, for the schema; requests use the scoped selector

    @extend_schema(
        summary="List triggers",
        operation_id="triggers_list",
        parameters=PAGE_PARAMETERS,
        responses={
            200: page_response(TriggerSerializer),
            404: OpenApiResponse(description="flowId names no flow you can read"),
        },
    )
    def get(self, request: Request) -> Response:
        """List triggers, optionally of one flow or one type."""
        triggers = self.filter_queryset(selectors.trigger_list(account=request.user))
        return paginate(self, request, triggers, TriggerSerializer, context=_context(request))

    @extend_schema(
        summary="Create a trigger",
        request=TriggerWriteSerializer,
        responses={
            201: TriggerSerializer,
            403: ROLE_REFUSED,
            404: OpenApiResponse(description="No such flow, or agentId names no agent of the flow's namespace"),
            422: INVALID,
        },
    )
    def post(self, request: Request) -> Response:
        """Create a schedule (cron), webhook, flow or agent trigger for a flow; an agent trigger's `agentId` must
        name an agent of the flow's namespace (404 otherwise)."""
        body = TriggerWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        flow = selectors.flow_get(account=request.user, flow_id=body.validated_data["flowId"])
        fields = body.service_fields()
        trigger = trigger_create(actor=request.user, flow=flow, type=fields.pop("type"), **fields)
        return Response(TriggerSerializer(trigger, context=_context(request)).data, status=status.HTTP_201_CREATED)


class TriggerDetailView(WorkflowDevAPIView):
    @extend_schema(summary="Get a trigger", responses={200: TriggerSerializer, 404: NOT_FOUND})
    def get(self, request: Request, id: str) -> Response:
        """Get a trigger."""
        trigger = selectors.trigger_get(account=request.user, trigger_id=id)
        return Response(TriggerSerializer(trigger, context=_context(request)).data)

    @extend_schema(
        summary="Update a trigger (any subset of fields)",
        request=TriggerWriteSerializer(partial=True),
        responses={
            200: TriggerSerializer,
            403: ROLE_REFUSED,
            404: NOT_FOUND,
            409: OpenApiResponse(description="YAML-declared"),
            422: INVALID,
        },
    )
    def put(self, request: Request, id: str) -> Response:
        """Update a trigger: any subset of its fields, e.g. `enabled` or `cron`."""
        trigger = selectors.trigger_get(account=request.user, trigger_id=id)
        body = TriggerWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        if "flowId" in body.validated_data and body.validated_data["flowId"] != trigger.flow_id:
            raise ValidationFailed(
                "A trigger cannot move to another flow.", details=[{"field": "flowId", "reason": "cannot change"}]
            )
        trigger = trigger_update(actor=request.user, trigger=trigger, **body.service_fields())
        return Response(TriggerSerializer(trigger, context=_context(request)).data)

    @extend_schema(summary="Delete a trigger", responses={204: None, 403: ROLE_REFUSED, 404: NOT_FOUND})
    def delete(self, request: Request, id: str) -> Response:
        """Delete a trigger."""
        trigger_delete(actor=request.user, trigger=selectors.trigger_get(account=request.user, trigger_id=id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TriggerBackfillView(WorkflowDevAPIView):
    @extend_schema(
        summary="Backfill a schedule trigger",
        request=BackfillSerializer,
        responses={
            201: BackfillResponseSerializer,
            400: OpenApiResponse(
                description="Not a schedule trigger, end not after start, or more than 1000 ticks in the range"
            ),
            403: ROLE_REFUSED,
            404: NOT_FOUND,
            422: OpenApiResponse(description="start or end missing or not a date-time, inputs not an object"),
        },
    )
    def post(self, request: Request, id: str) -> Response:
        """Start one execution per cron tick in [start, end), oldest first, each with `trigger.date` set to its
        tick; the flow's concurrency limit applies to them as to any start."""
        trigger = selectors.trigger_get(account=request.user, trigger_id=id)
        body = BackfillSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        executions = trigger_backfill(actor=request.user, trigger=trigger, **body.validated_data)
        return Response({"executions": len(executions)}, status=status.HTTP_201_CREATED)


class WebhookView(WorkflowDevAPIView):
    """Open: the key is the credential. JSON body → `trigger.body`; headers → `trigger.headers`."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    parser_classes = [JSONParser, RawBodyParser]

    @extend_schema(
        summary="Fire a webhook trigger",
        request={"application/json": OpenApiTypes.OBJECT},
        parameters=[OpenApiParameter("wait", bool, description="Wait (bounded) for the end; answer the outputs.")],
        responses={
            201: WebhookResponseSerializer,
            404: OpenApiResponse(description="Unknown or disabled key"),
            413: OpenApiResponse(description="Body too large"),
        },
    )
    def post(self, request: Request, key: str) -> Response:
        body = request.data
        if isinstance(body, QueryDict):  # no body at all
            body = body.dict()
        execution = webhook_fire(key=key, body=body, headers=dict(request.headers))
        if (request.query_params.get("wait") or "").lower() in {"1", "true", "yes"}:
            execution_wait(execution, settings.MILLRACE_WEBHOOK_WAIT_SECONDS, fields=("status", "outputs"))
            answer = {"executionId": execution.pk, "status": execution.status, "outputs": execution.outputs}
        else:
            answer = {"executionId": execution.pk, "status": execution.status, "tasksTotal": execution.tasks_total}
        return Response(WebhookResponseSerializer(answer).data, status=status.HTTP_201_CREATED)
