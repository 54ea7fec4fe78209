"""Flows: list, get, create, update, delete, and run.

FlowRunner has no namespaces: lists show every flow the caller may read, and new flows go
into the caller's default namespace (`default` for an account without one).
"""

from django.core.files.uploadedfile import UploadedFile
from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.services import namespace_home
from api.filtering import FilteredListMixin
from api.flowrunner.filters import FlowFilterSet
from api.flowrunner.serializers import (
    FlowCreateSerializer,
    FlowDetailSerializer,
    FlowListSerializer,
    FlowSerializer,
    FlowUpdateSerializer,
    MessageSerializer,
    RunResponseSerializer,
    RunSerializer,
)
from api.flowrunner.views.base import FlowRunnerAPIView
from api.parsers import JSONParser
from api.uploads import UploadParser, content_length_required, form_inputs
from core.errors import BadRequest, PayloadTooLarge
from executions.services import execution_start, flow_delete
from flows import selectors, services
from flows.definitions import DefinitionError, load_yaml
from flows.models import Flow

#: Reads document only what every operation can answer (api.docs: 401, and 404 on a path that
#: names an object); writes add the role check and their own refusals.
ERRORS: dict[int, OpenApiResponse] = {}
FORBIDDEN = {403: OpenApiResponse(description="The role does not allow it (`forbidden`)")}
WRITE_ERRORS = {
    400: OpenApiResponse(description="Malformed JSON or YAML (`invalid_request`)"),
    **FORBIDDEN,
    409: OpenApiResponse(description="A flow with that name exists (`conflict`)"),
    413: OpenApiResponse(description="Body or definition too large (`payload_too_large`)"),
    422: OpenApiResponse(description="Every problem of the definition (`validation_error`)"),
}
#: Problems of the YAML text itself, not of what it says: the seed's `invalid_request`.
_MALFORMED = {"yaml_syntax", "encoding"}


def check_yaml(source: str | None) -> None:
    """Malformed YAML is a 400 and an oversize definition a 413; what remains is for the
    service to validate (422 with every problem)."""
    if source is None:
        return
    try:
        load_yaml(source)
    except DefinitionError as exc:
        problem = exc.problems[0]
        details = {"field": "definition", "reason": problem.message, "line": problem.line}
        if problem.code in _MALFORMED:
            raise BadRequest(f"The definition is not valid YAML: {problem.message}", details=details) from exc
        if problem.code == "too_large":
            raise PayloadTooLarge(f"The definition is too large: {problem.message}", details=details) from exc


class FlowListView(FilteredListMixin, FlowRunnerAPIView):
    filterset_class = FlowFilterSet
    queryset = Flow.objects.none()  # the model, for the schema; requests use the scoped selector

    @extend_schema(
        operation_id="list_flows",
        summary="List flows",
        parameters=[
            OpenApiParameter("limit", int, description="Default 10, at most 1000"),
            OpenApiParameter("offset", int),
        ],
        responses={200: FlowListSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        """Get a list of flows."""
        flows = self.filter_queryset(selectors.flow_list(account=request.user))
        return self.paginated(request, flows, "flows", FlowSerializer)

    @extend_schema(
        operation_id="create_flow",
        summary="Create a flow (in the caller's default namespace)",
        request=FlowCreateSerializer,
        responses={201: FlowSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request) -> Response:
        """Create a new flow from a YAML definition (nodes format). The definition is validated before it is saved."""
        body = FlowCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        namespace = namespace_home(account=request.user)
        check_yaml(data["definition"])
        flow = services.flow_create(
            actor=request.user,
            namespace=namespace,
            source=data["definition"],
            name=data.get("name"),
            description=data.get("description"),
            tags=data.get("tags"),
        )
        return Response(FlowSerializer(flow).data, status=status.HTTP_201_CREATED)


class FlowDetailView(FlowRunnerAPIView):
    @extend_schema(
        operation_id="get_flow",
        summary="Get a flow with its YAML definition",
        responses={200: FlowDetailSerializer, **ERRORS},
    )
    def get(self, request: Request, flow_id: str) -> Response:
        """Get details of a specific flow, with its YAML definition."""
        flow = selectors.flow_get(account=request.user, flow_id=flow_id)
        return Response(FlowDetailSerializer(flow).data)

    @extend_schema(
        operation_id="update_flow",
        summary="Update a flow (a changed definition is saved as a new revision)",
        request=FlowUpdateSerializer,
        responses={200: FlowSerializer, **WRITE_ERRORS},
    )
    def put(self, request: Request, flow_id: str) -> Response:
        """Update an existing flow: any of its name, description, tags and definition."""
        flow = selectors.flow_get(account=request.user, flow_id=flow_id)
        body = FlowUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        check_yaml(data.get("definition"))
        flow = services.flow_update(
            actor=request.user,
            flow=flow,
            source=data.get("definition"),
            name=data.get("name"),
            description=data.get("description"),
            tags=data.get("tags"),
        )
        return Response(FlowSerializer(flow).data)

    @extend_schema(
        operation_id="delete_flow",
        summary="Delete a flow",
        parameters=[OpenApiParameter("force", bool, description="Cancel its running executions and delete")],
        responses={
            200: MessageSerializer,
            **FORBIDDEN,
            409: OpenApiResponse(description="The flow has running executions (`conflict`)"),
        },
    )
    def delete(self, request: Request, flow_id: str) -> Response:
        """Delete a flow."""
        flow = selectors.flow_get(account=request.user, flow_id=flow_id)
        force = request.query_params.get("force", "").lower() in ("1", "true", "yes")
        flow_delete(actor=request.user, flow=flow, force=force)
        return Response({"message": "Flow deleted successfully"})


class FlowRunView(FlowRunnerAPIView):
    parser_classes = [JSONParser, UploadParser]

    @extend_schema(
        operation_id="run_flow",
        summary="Run a flow",
        request={"application/json": RunSerializer, "multipart/form-data": OpenApiTypes.OBJECT},
        responses={
            201: RunResponseSerializer,
            400: OpenApiResponse(description="A malformed body (`invalid_request`)"),
            **FORBIDDEN,
            413: OpenApiResponse(description="A file over MILLRACE_MAX_FILE_BYTES (`payload_too_large`)"),
            422: OpenApiResponse(description="The input does not fit the flow (`validation_error`)"),
        },
    )
    def post(self, request: Request, flow_id: str) -> Response:
        """Execute a flow with an optional `input` object. The execution runs in the background; follow it with the
        execution, its logs or the WebSocket. A flow with FILE inputs is run with a multipart/form-data body: each
        file part is the file of the FILE input of its name (the input's value becomes the stored file's
        millrace:/// URI), each text field another input, converted to its declared type; labels go in JSON bodies
        only. A file over MILLRACE_MAX_FILE_BYTES is a 413, and nothing of a refused run is stored."""
        flow = selectors.flow_get(account=request.user, flow_id=flow_id)
        content_length_required(request, "input")
        files: dict[str, UploadedFile] = {}
        if isinstance(request.data, QueryDict):
            inputs, files = form_inputs(request)
            labels = None
        else:
            body = RunSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            inputs, labels = body.validated_data.get("input") or {}, body.validated_data.get("labels")
        execution = execution_start(actor=request.user, flow=flow, inputs=inputs, files=files, labels=labels)
        return Response(RunResponseSerializer(execution).data, status=status.HTTP_201_CREATED)
