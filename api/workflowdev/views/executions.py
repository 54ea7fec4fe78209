"""Executions (list, get with tasks, cancel, retry, replay) and approvals of gates."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from api.filtering import FilteredListMixin
from api.workflowdev.filters import ApprovalFilterSet, ExecutionFilterSet
from api.workflowdev.serializers.executions import (
    ApprovalSerializer,
    DecisionSerializer,
    ExecutionDetailSerializer,
    ExecutionSerializer,
    ReplayResponseSerializer,
    execution_detail,
)
from api.workflowdev.views.base import (
    BAD_QUERY,
    PAGE_PARAMETERS,
    ROLE_REFUSED,
    WorkflowDevAPIView,
    page_response,
    paginate,
)
from core.errors import BadRequest
from executions import selectors
from executions.models import Approval, Execution
from executions.services import approval_decide, execution_cancel, execution_replay, execution_retry

NOT_FOUND = OpenApiResponse(description="Not found (or in a namespace you cannot read)")
CONFLICT = OpenApiResponse(description="Not allowed in the current status")


class ExecutionListView(FilteredListMixin, WorkflowDevAPIView):
    filterset_class = ExecutionFilterSet
    queryset = Execution.objects.none()  # the model, for the schema; requests use the scoped selector

    @extend_schema(
        summary="List executions, newest first",
        operation_id="executions_list",
        parameters=PAGE_PARAMETERS,
        responses={200: page_response(ExecutionSerializer), 400: BAD_QUERY},
    )
    def get(self, request: Request) -> Response:
        """List executions, newest first, optionally filtered by flow, namespace or state."""
        executions = self.filter_queryset(selectors.execution_list(account=request.user))
        return paginate(self, request, executions, ExecutionSerializer)


def _detail(request: Request, execution_id: str) -> Response:
    execution = selectors.execution_get(account=request.user, execution_id=execution_id)
    return Response(execution_detail(execution, selectors.task_runs(execution=execution)))


class ExecutionDetailView(WorkflowDevAPIView):
    @extend_schema(
        summary="Get an execution with its tasks", responses={200: ExecutionDetailSerializer, 404: NOT_FOUND}
    )
    def get(self, request: Request, id: str) -> Response:
        """Get an execution with its tasks, their states, outputs and errors."""
        return _detail(request, id)


class ExecutionCancelView(WorkflowDevAPIView):
    @extend_schema(
        summary="Cancel a running execution",
        request=None,
        responses={200: ExecutionDetailSerializer, 403: ROLE_REFUSED, 404: NOT_FOUND, 409: CONFLICT},
    )
    def post(self, request: Request, id: str) -> Response:
        """Cancel a running execution; it ends as cancelled."""
        execution = selectors.execution_get(account=request.user, execution_id=id)
        execution_cancel(actor=request.user, execution=execution)
        return _detail(request, id)


class ExecutionRetryView(WorkflowDevAPIView):
    @extend_schema(
        summary="Retry a failed, cancelled or timed-out execution",
        request=None,
        responses={200: ExecutionDetailSerializer, 403: ROLE_REFUSED, 404: NOT_FOUND, 409: CONFLICT},
    )
    def post(self, request: Request, id: str) -> Response:
        """Run the failed, cancelled and timed-out tasks of an execution again; the outputs of successful tasks are
        kept."""
        execution = selectors.execution_get(account=request.user, execution_id=id)
        execution_retry(actor=request.user, execution=execution)
        return _detail(request, id)


def _revision(request: Request) -> int | None:
    text = request.query_params.get("revision")
    if text in (None, ""):
        return None
    if not text.isdigit() or int(text) < 1:
        raise BadRequest("revision must be a revision number.", details={"field": "revision", "reason": "not a number"})
    return int(text)


class ExecutionReplayView(WorkflowDevAPIView):
    @extend_schema(
        summary="Replay an ended execution from one of its tasks",
        request=None,
        parameters=[
            OpenApiParameter(
                "taskRunId", str, required=True, description="The task run to run again, and all after it."
            ),
            OpenApiParameter("revision", int, description="The flow revision to run (default: the execution's)."),
        ],
        responses={
            201: ReplayResponseSerializer,
            400: OpenApiResponse(description="taskRunId missing, or its task is not in the revision"),
            403: ROLE_REFUSED,
            404: OpenApiResponse(description="No such execution, task run of it, or revision"),
            409: OpenApiResponse(description="The execution has not ended"),
        },
    )
    def post(self, request: Request, id: str) -> Response:
        """Start a new execution of the same flow and inputs that keeps the outputs of the tasks before the chosen
        task run and runs from it; it links to this one (`originalId`)."""
        execution = selectors.execution_get(account=request.user, execution_id=id)
        task_run_id = request.query_params.get("taskRunId")
        if not task_run_id:
            raise BadRequest("taskRunId is required.", details={"field": "taskRunId", "reason": "required"})
        replay = execution_replay(
            actor=request.user, execution=execution, task_run_id=task_run_id, revision=_revision(request)
        )
        return Response({"executionId": str(replay.pk)}, status=status.HTTP_201_CREATED)


class ApprovalListView(FilteredListMixin, WorkflowDevAPIView):
    filterset_class = ApprovalFilterSet
    queryset = Approval.objects.none()  # the model, for the schema; requests use the scoped selector

    @extend_schema(
        summary="List approvals, newest first",
        operation_id="approvals_list",
        parameters=PAGE_PARAMETERS,
        responses={
            200: page_response(ApprovalSerializer),
            400: BAD_QUERY,
            404: OpenApiResponse(description="executionId names no execution you can read"),
        },
    )
    def get(self, request: Request) -> Response:
        """List the approvals of gate tasks, optionally of one execution or one status."""
        approvals = self.filter_queryset(selectors.approval_list(account=request.user))
        return paginate(self, request, approvals, ApprovalSerializer)


class ApprovalDetailView(WorkflowDevAPIView):
    @extend_schema(summary="Get a gate approval", responses={200: ApprovalSerializer, 404: NOT_FOUND})
    def get(self, request: Request, id: str) -> Response:
        """Get an approval: the gate task waiting for a decision, and the decision once made."""
        return Response(ApprovalSerializer(selectors.approval_get(account=request.user, approval_id=id)).data)


DECISION_RESPONSES = {
    200: ApprovalSerializer,
    403: OpenApiResponse(description="Needs executor"),
    404: NOT_FOUND,
    409: OpenApiResponse(description="Already decided, or the gate no longer waits"),
}


def _decide(request: Request, approval_id: str, *, approve: bool) -> Response:
    approval = selectors.approval_get(account=request.user, approval_id=approval_id)
    body = DecisionSerializer(data=request.data or {})
    body.is_valid(raise_exception=True)
    approval = approval_decide(
        actor=request.user, approval=approval, approve=approve, comment=body.validated_data["comment"]
    )
    return Response(ApprovalSerializer(approval).data)


class ApprovalApproveView(WorkflowDevAPIView):
    @extend_schema(summary="Approve a gate", request=DecisionSerializer, responses=DECISION_RESPONSES)
    def post(self, request: Request, id: str) -> Response:
        """Approve a waiting gate: its task succeeds and the execution continues."""
        return _decide(request, id, approve=True)


class ApprovalRejectView(WorkflowDevAPIView):
    @extend_schema(
        summary="Reject a gate (the task and the execution fail)",
        request=DecisionSerializer,
        responses=DECISION_RESPONSES,
    )
    def post(self, request: Request, id: str) -> Response:
        """Reject a waiting gate: its task and the execution fail."""
        return _decide(request, id, approve=False)
