"""workflowsvc runs: list, get, create (run a definition) and the status PUT.

Every call names its namespaces in `nsfilter`; a run outside them is a 404 like a missing
one, a definition outside them is a 403 (the caller named where it may act).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Account, Namespace
from api.dialect import DialectViewMixin
from api.workflowsvc import filters
from api.workflowsvc.dialect import DIALECT, WorkflowSvcPagination
from api.workflowsvc.serializers import (
    ErrorSerializer,
    WorkflowCreateSerializer,
    WorkflowListSerializer,
    WorkflowRunSerializer,
    WorkflowStatusSerializer,
)
from core.errors import BadRequest, Forbidden, NotFound
from executions import selectors as execution_selectors
from executions import services as execution_services
from executions.models import Execution
from flows.selectors import flow_get

NSFILTER = OpenApiParameter(
    "nsfilter", str, required=True, description="Comma-separated namespace names the call is limited to."
)
ERRORS = {code: OpenApiResponse(ErrorSerializer) for code in (400, 401, 403, 404)}

STATUS_SERVICES: dict[str, Callable[..., Execution]] = {
    "PAUSED": execution_services.execution_pause,
    "RESUMED": execution_services.execution_resume,
    "RETRIED": execution_services.execution_retry,
    "TERMINATED": execution_services.execution_cancel,
}


def _as_bad_request(handler: Callable[[Exception, dict[str, Any]], Response]) -> Callable[..., Response]:
    """The seed answers a request it cannot accept with 400 and has no 422: map it."""

    def handle(exc: Exception, context: dict[str, Any]) -> Response:
        response = handler(exc, context)
        if response.status_code == 422:
            response.status_code = 400
        return response

    return handle


class WorkflowSvcView(DialectViewMixin, APIView):
    """Base of the workflowsvc views: its error shape, `nsfilter`, and how a run is rendered."""

    dialect = DIALECT

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response]:
        return _as_bad_request(super().get_exception_handler())

    @property
    def account(self) -> Account:
        return self.request.user  # type: ignore[return-value]

    def namespaces(self) -> list[Namespace]:
        return filters.parse_nsfilter(self.request.query_params, self.account)

    def run_in(self, namespaces: list[Namespace], workflow_id: str) -> Execution:
        """The run, or 404 when it is missing, unreadable or outside `nsfilter`."""
        execution = execution_selectors.execution_get(account=self.account, execution_id=workflow_id)
        if execution.namespace_id not in {ns.id for ns in namespaces}:
            raise NotFound("Workflow not found in the namespaces of nsfilter.")
        return execution

    def render(self, execution: Execution, *, loop_tasks: bool = False, status: int = 200) -> Response:
        """The run as it is now (re-read: an eager engine may have moved it on)."""
        execution = execution_selectors.execution_get(account=self.account, execution_id=execution.pk)
        runs = execution_selectors.task_runs(execution=execution, include_loop_tasks=loop_tasks)
        setattr(execution, execution_selectors.PAGE_TASKS_ATTR, list(runs))
        return Response(WorkflowRunSerializer(execution).data, status=status)


def _body(serializer_class: type, data: Any) -> dict[str, Any]:
    """A validated body, or 400 naming the first bad field."""
    body = serializer_class(data=data)
    if not body.is_valid():
        field, problems = next(iter(body.errors.items()))
        reason = str(problems[0]) if isinstance(problems, list) and problems else str(problems)
        raise BadRequest(f"{field}: {reason}", details={"field": field, "reason": reason})
    return body.validated_data


class WorkflowListView(WorkflowSvcView):
    """Runs of the `nsfilter` namespaces; POST runs a definition."""

    @extend_schema(
        summary="List workflow runs",
        operation_id="workflows_list",
        parameters=[
            NSFILTER,
            OpenApiParameter("_pagesize", int, description="Page size (default 10, max 1000)."),
            OpenApiParameter("_pageSize", int, description="Same as _pagesize."),
            OpenApiParameter("_offset", int, description="Position of the first run (default 0)."),
            OpenApiParameter("_name", str, description="Part of the workflow name, any case."),
            OpenApiParameter("_defId", str, description="Part of the workflow definition id."),
            OpenApiParameter("_status", str, description="QUEUED, RUNNING, PAUSED, COMPLETED, FAILED, ..."),
            OpenApiParameter("startDate", str, description="Created at or after (date or datetime)."),
            OpenApiParameter("endDate", str, description="Created at or before; a bare date includes the day."),
            OpenApiParameter("enddate", str, description="Same as endDate."),
            OpenApiParameter("sort", str, description='JSON object of field -> 1/-1, e.g. {"_updatedAt":-1}.'),
        ],
        responses={200: WorkflowListSerializer, **{code: ERRORS[code] for code in (400, 401, 403)}},
    )
    def get(self, request: Request) -> Response:
        """Get a list of the workflow runs of the `nsfilter` namespaces, filtered by name, definition, status or
        dates and paged with `_offset` and `_pageSize`."""
        query = request.query_params
        namespaces = self.namespaces()
        start, end = filters.parse_dates(query)
        statuses, order = filters.parse_statuses(query), filters.parse_sort(query)
        queryset = execution_selectors.execution_list(
            account=self.account,
            namespaces=[ns.name for ns in namespaces],
            statuses=statuses,
            created_after=start,
            created_before=end,
        )
        if name := query.get("_name", "").strip():
            queryset = queryset.filter(flow_name__icontains=name)
        if def_id := query.get("_defId", "").strip():
            queryset = queryset.filter(flow__id__icontains=def_id)
        paginator = WorkflowSvcPagination()
        page = paginator.paginate_queryset(
            execution_selectors.execution_page(queryset, order=order), request, view=self
        )
        return paginator.get_paginated_response(WorkflowRunSerializer(page, many=True).data)

    @extend_schema(
        summary="Create (run) a workflow",
        operation_id="workflows_create",
        parameters=[NSFILTER],
        request=WorkflowCreateSerializer,
        responses={201: WorkflowRunSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        """Start a workflow: run the workflow definition `_workflowDefId` with its input parameters."""
        namespaces = self.namespaces()
        body = _body(WorkflowCreateSerializer, request.data)
        flow = flow_get(account=self.account, flow_id=body["_workflowDefId"])
        if flow.namespace_id not in {ns.id for ns in namespaces}:
            raise Forbidden(f"The workflow definition is in namespace '{flow.namespace.name}', outside nsfilter.")
        execution = execution_services.execution_start(
            actor=self.account,
            flow=flow,
            inputs=body.get("_inputParams") or {},
            origin="workflowsvc",
            labels=body.get("_labels"),
        )
        return self.render(execution, status=201)


class WorkflowDetailView(WorkflowSvcView):
    """One run with its tasks."""

    @extend_schema(
        summary="Get a workflow run",
        operation_id="workflows_retrieve",
        parameters=[
            NSFILTER,
            OpenApiParameter("_includeLoopOverTasks", bool, description="Include forEach iteration tasks."),
        ],
        responses={200: WorkflowRunSerializer, **ERRORS},
    )
    def get(self, request: Request, workflow_id: str) -> Response:
        """Get a workflow run by its ID, with its tasks."""
        namespaces = self.namespaces()
        loop_tasks = filters.parse_bool(request.query_params, "_includeLoopOverTasks")
        return self.render(self.run_in(namespaces, workflow_id), loop_tasks=loop_tasks)


class WorkflowStatusView(WorkflowSvcView):
    """Status words map to the execution services; the engine decides what is allowed (409)."""

    @extend_schema(
        summary="Pause, resume, retry or terminate a workflow run",
        operation_id="workflows_status_update",
        parameters=[NSFILTER],
        request=WorkflowStatusSerializer,
        responses={200: WorkflowRunSerializer, 409: OpenApiResponse(ErrorSerializer), **ERRORS},
    )
    def put(self, request: Request, workflow_id: str) -> Response:
        """Change a workflow run's status: PAUSED, RESUMED, RETRIED or TERMINATED. A change the run's state does not
        allow answers 409."""
        namespaces = self.namespaces()
        body = _body(WorkflowStatusSerializer, request.data)
        execution = self.run_in(namespaces, workflow_id)
        STATUS_SERVICES[body["_status"]](actor=self.account, execution=execution)
        return self.render(execution)
