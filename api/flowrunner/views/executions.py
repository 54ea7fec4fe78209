"""Executions: list, get, cancel (`DELETE`), logs, and a file of an execution.

The status filter takes FlowRunner words (`running` is QUEUED, RUNNING and WAITING); a log
`level` is a minimum. The same logs path opened as a WebSocket is workflowdev's log stream
(`executions.consumers`).
"""

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from api.filtering import FilteredListMixin
from api.flowrunner.events import LOG_LEVELS, log_level
from api.flowrunner.filters import ExecutionFilterSet
from api.flowrunner.serializers import (
    ExecutionListSerializer,
    ExecutionSerializer,
    ExecutionSummarySerializer,
    LogEntrySerializer,
    LogListSerializer,
    MessageSerializer,
)
from api.flowrunner.views.base import FlowRunnerAPIView
from api.flowrunner.views.flows import ERRORS, FORBIDDEN
from executions import selectors, services
from executions.models import Execution
from files.responses import file_response

PAGE = [
    OpenApiParameter("limit", int, description="Default 10, at most 1000"),
    OpenApiParameter("offset", int),
]


class ExecutionListView(FilteredListMixin, FlowRunnerAPIView):
    filterset_class = ExecutionFilterSet
    queryset = Execution.objects.none()  # the model, for the schema; requests use the scoped selector

    @extend_schema(
        operation_id="list_executions",
        summary="List executions (newest first)",
        parameters=PAGE,
        responses={200: ExecutionListSerializer, 400: OpenApiResponse(description="A bad filter (`invalid_request`)")},
    )
    def get(self, request: Request) -> Response:
        """Get a list of executions, optionally filtered by flow or status."""
        executions = self.filter_queryset(selectors.execution_list(account=request.user))
        return self.paginated(request, executions, "executions", ExecutionSummarySerializer)


class ExecutionDetailView(FlowRunnerAPIView):
    @extend_schema(
        operation_id="get_execution", summary="Get an execution", responses={200: ExecutionSerializer, **ERRORS}
    )
    def get(self, request: Request, execution_id: str) -> Response:
        """Get details of a specific execution: its status, input, result and timing."""
        execution = selectors.execution_get(account=request.user, execution_id=execution_id)
        return Response(ExecutionSerializer(execution).data)

    @extend_schema(
        operation_id="cancel_execution",
        summary="Cancel an execution",
        responses={
            200: MessageSerializer,
            **FORBIDDEN,
            409: OpenApiResponse(description="The execution already ended (`conflict`)"),
        },
    )
    def delete(self, request: Request, execution_id: str) -> Response:
        """Cancel a running execution."""
        execution = selectors.execution_get(account=request.user, execution_id=execution_id)
        services.execution_cancel(actor=request.user, execution=execution)
        return Response({"message": "Execution cancelled successfully"})


class ExecutionLogsView(FlowRunnerAPIView):
    @extend_schema(
        operation_id="get_execution_logs",
        summary="Logs of an execution (every event, oldest first)",
        parameters=[
            OpenApiParameter(
                "level", str, enum=list(LOG_LEVELS), description="Minimum level: warn gives warn and error"
            ),
            *PAGE,
        ],
        responses={200: LogListSerializer, **ERRORS},
    )
    def get(self, request: Request, execution_id: str) -> Response:
        """Get logs for a specific execution, one entry per event, with the node that produced it."""
        execution = selectors.execution_get(account=request.user, execution_id=execution_id)
        events = selectors.execution_events(execution=execution, min_level=log_level(request.query_params.get("level")))
        return self.paginated(request, events, "logs", LogEntrySerializer)


class ExecutionFileView(FlowRunnerAPIView):
    @extend_schema(
        operation_id="get_execution_file",
        summary="Download a file of an execution",
        parameters=[
            OpenApiParameter(
                "path",
                str,
                required=True,
                description="The file's URI, as an input or a node's output gives it: `millrace:///<namespace>/...`.",
            )
        ],
        responses={
            (200, "*/*"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The file's bytes, as an attachment named after the file."
            ),
            400: OpenApiResponse(description="`path` is not a millrace:/// URI (`invalid_request`)"),
            404: OpenApiResponse(
                description="No such execution (or one you cannot read), or no such file of it (`not_found`)"
            ),
        },
    )
    def get(self, request: Request, execution_id: str) -> FileResponse:
        """Stream a file the execution was given (a FILE input) or one of its nodes wrote. A URI of another
        execution or of another namespace is not found, like a missing file. Needs the viewer role."""
        name, handle = selectors.execution_file(
            account=request.user, execution_id=execution_id, uri=request.query_params.get("path", "")
        )
        return file_response(name, handle)
