"""Flows: CRUD, validation, import/export, revisions, and starting an execution."""

import json

from django.core.files.uploadedfile import UploadedFile
from django.http import HttpResponse, QueryDict
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, OpenApiTypes, extend_schema
from rest_framework import status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import APISettings
from rest_framework.utils.encoders import JSONEncoder

from accounts.selectors import namespace_get
from api.filtering import FilteredListMixin
from api.parsers import JSONParser
from api.uploads import UploadParser, content_length_required, form_inputs
from api.workflowdev.filters import FlowFilterSet
from api.workflowdev.parsers import YAML_PARSERS
from api.workflowdev.serializers.flows import (
    ExecuteResponseSerializer,
    FlowExportSerializer,
    FlowSerializer,
    FlowWriteSerializer,
    RevisionSerializer,
    ValidateRequestSerializer,
    ValidationResultSerializer,
)
from api.workflowdev.views.base import (
    PAGE_PARAMETERS,
    ROLE_REFUSED,
    WorkflowDevAPIView,
    body_namespace,
    page_response,
    paginate,
)
from core.errors import BadRequest, ValidationFailed
from executions.engine.labels import label_pairs
from executions.services import execution_start, flow_delete
from flows import selectors
from flows.definitions import DefinitionError, compile_definition
from flows.definitions.convert import FORMATS, ConversionError, convert_source
from flows.models import Flow
from flows.services import flow_create, flow_restore, flow_update, flow_validate
from flows.transfer import flow_export, flow_import

FLOW_ERRORS = {
    400: OpenApiResponse(description="Malformed JSON"),
    403: ROLE_REFUSED,
    404: OpenApiResponse(description="Flow or namespace not found"),
    409: OpenApiResponse(description="A flow of that name exists"),
    422: OpenApiResponse(description="Invalid definition: every problem with path, line and message"),
}


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in {"1", "true", "yes"}


class FlowListView(FilteredListMixin, WorkflowDevAPIView):
    filterset_class = FlowFilterSet
    queryset = Flow.objects.none()  # the model, for the schema; requests use the scoped selector

    @extend_schema(
        summary="List flows",
        operation_id="flows_list",
        parameters=PAGE_PARAMETERS,
        responses={200: page_response(FlowSerializer)},
    )
    def get(self, request: Request) -> Response:
        """List flows, optionally of one namespace or with a part of the name (`q`)."""
        flows = self.filter_queryset(selectors.flow_list(account=request.user))
        return paginate(self, request, flows, FlowSerializer)

    @extend_schema(summary="Create a flow", request=FlowWriteSerializer, responses={201: FlowSerializer, **FLOW_ERRORS})
    def post(self, request: Request) -> Response:
        """Create a flow from its YAML (`yamlContent`) in a namespace. The YAML is validated before it is saved."""
        body = FlowWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        namespace = body_namespace(request.user, data.get("namespace") or _yaml_namespace(data["yamlContent"]))
        flow = flow_create(
            actor=request.user,
            namespace=namespace,
            source=data["yamlContent"],
            name=data.get("name") or None,
            description=data.get("description"),
        )
        return Response(FlowSerializer(flow).data, status=status.HTTP_201_CREATED)


def _yaml_namespace(source: str) -> str | None:
    """The `namespace:` a tasks-format definition declares, if it parses (validation comes later)."""
    try:
        return compile_definition(source).namespace or None
    except (DefinitionError, ValueError):
        return None


class FlowDetailView(WorkflowDevAPIView):
    @extend_schema(summary="Get a flow", responses={200: FlowSerializer, 404: FLOW_ERRORS[404]})
    def get(self, request: Request, id: str) -> Response:
        """Get a flow with its YAML."""
        return Response(FlowSerializer(selectors.flow_get(account=request.user, flow_id=id)).data)

    @extend_schema(
        summary="Update a flow (a changed YAML is a new revision)",
        request=FlowWriteSerializer(partial=True),
        responses={200: FlowSerializer, **FLOW_ERRORS},
    )
    def put(self, request: Request, id: str) -> Response:
        """Update a flow. A changed YAML is saved as a new revision."""
        flow = selectors.flow_get(account=request.user, flow_id=id)
        body = FlowWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if data.get("namespace") and data["namespace"] != flow.namespace.name:
            raise ValidationFailed(
                "A flow cannot move to another namespace; export it and import it there.",
                details=[{"field": "namespace", "reason": "cannot change"}],
            )
        flow = flow_update(
            actor=request.user,
            flow=flow,
            source=data.get("yamlContent"),
            name=data.get("name") or None,
            description=data.get("description"),
        )
        return Response(FlowSerializer(flow).data)

    @extend_schema(
        summary="Delete a flow",
        parameters=[OpenApiParameter("force", bool, description="Cancel its running executions first.")],
        responses={
            204: None,
            403: ROLE_REFUSED,
            404: FLOW_ERRORS[404],
            409: OpenApiResponse(description="Running executions"),
        },
    )
    def delete(self, request: Request, id: str) -> Response:
        """Delete a flow. With `force=true` its running executions are cancelled first."""
        flow = selectors.flow_get(account=request.user, flow_id=id)
        flow_delete(actor=request.user, flow=flow, force=_truthy(request.query_params.get("force")))
        return Response(status=status.HTTP_204_NO_CONTENT)


class FlowValidateView(WorkflowDevAPIView):
    """Validate without saving: JSON `{"yamlContent"}` or a raw YAML body."""

    parser_classes = [JSONParser, *YAML_PARSERS]

    @extend_schema(
        summary="Validate YAML",
        request={"application/json": ValidateRequestSerializer, "application/x-yaml": OpenApiTypes.STR},
        parameters=[OpenApiParameter("namespace", str, description="Check ${NAME} credentials against it.")],
        responses={
            200: ValidationResultSerializer,
            404: OpenApiResponse(description="An unknown namespace"),
            422: OpenApiResponse(description="A field is missing or invalid"),
        },
    )
    def post(self, request: Request) -> Response:
        if isinstance(request.data, str):
            source, namespace_name = request.data, request.query_params.get("namespace")
        else:
            body = ValidateRequestSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            source = body.validated_data["yamlContent"]
            namespace_name = body.validated_data.get("namespace") or request.query_params.get("namespace")
        namespace = namespace_get(account=request.user, name=namespace_name) if namespace_name else None
        problems = flow_validate(source=source, namespace=namespace, owner=request.user)
        errors = [problem.as_dict() for problem in problems]
        return Response(ValidationResultSerializer({"valid": not errors, "errors": errors}).data)


class FlowImportView(WorkflowDevAPIView):
    @extend_schema(
        summary="Import a flow from an export file",
        request=FlowExportSerializer,
        parameters=[
            OpenApiParameter("overwrite", bool, description="Replace a flow of the same name."),
            OpenApiParameter("namespace", str, description="Import into this namespace instead of the file's."),
        ],
        responses={201: FlowSerializer, 200: FlowSerializer, **FLOW_ERRORS},
    )
    def post(self, request: Request) -> Response:
        """Import a flow from an export file. An existing flow of the same name is replaced only with
        `overwrite=true`."""
        body = FlowExportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        name = request.query_params.get("namespace") or data["flow"].get("namespace")
        namespace = body_namespace(request.user, name)
        flow, created = flow_import(
            actor=request.user, namespace=namespace, data=data, overwrite=_truthy(request.query_params.get("overwrite"))
        )
        return Response(FlowSerializer(flow).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


EXPORT_FORMATS = ("json", *FORMATS)


class _ExportNegotiation(DefaultContentNegotiation):
    """On the export, `?format=` names the export format, not one of DRF's renderers."""

    settings = APISettings({"URL_FORMAT_OVERRIDE": None})


class FlowExportView(WorkflowDevAPIView):
    content_negotiation_class = _ExportNegotiation

    @extend_schema(
        summary="Export a flow as JSON, or its definition in another format (a download)",
        parameters=[
            OpenApiParameter(
                "format",
                str,
                enum=EXPORT_FORMATS,
                description="json (default): the import file. nodes, tasks, kestra: the YAML in that format.",
            )
        ],
        responses={
            (200, "application/json"): FlowExportSerializer,
            (200, "application/x-yaml"): OpenApiTypes.STR,
            400: OpenApiResponse(description="An unknown format"),
            404: FLOW_ERRORS[404],
            422: OpenApiResponse(description="The format cannot express the flow: what cannot, in details"),
        },
    )
    def get(self, request: Request, id: str) -> HttpResponse:
        """Export a flow as a JSON file that `POST /api/v1/flows/import` accepts, or with `format`
        its definition converted to the nodes, tasks or Kestra format."""
        target = request.query_params.get("format", "json")
        if target not in EXPORT_FORMATS:
            raise BadRequest(
                f"Unknown export format '{target[:50]}'; use one of {', '.join(EXPORT_FORMATS)}.",
                details=[{"field": "format", "reason": "unknown"}],
            )
        flow = selectors.flow_get(account=request.user, flow_id=id)
        filename = f"{flow.namespace.name}.{flow.name}"
        if target == "json":
            text = json.dumps(FlowExportSerializer(flow_export(flow)).data, cls=JSONEncoder, indent=2)
            response = HttpResponse(text, content_type="application/json")
            response["Content-Disposition"] = f'attachment; filename="{filename}.json"'
            return response
        try:
            text = convert_source(flow.source, target, namespace=flow.namespace.name)
        except ConversionError as exc:
            details = [{"path": "", "line": None, "message": reason} for reason in exc.reasons]
            raise ValidationFailed(str(exc), details=details) from exc
        except DefinitionError as exc:
            message = f"The flow definition is invalid: {exc.problems[0]}"
            raise ValidationFailed(message, details=exc.as_dicts()) from exc
        response = HttpResponse(text, content_type="application/x-yaml; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}.{target}.yaml"'
        return response


class FlowRevisionsView(WorkflowDevAPIView):
    @extend_schema(
        summary="List revisions, newest first",
        parameters=PAGE_PARAMETERS,
        responses={200: page_response(RevisionSerializer)},
    )
    def get(self, request: Request, id: str) -> Response:
        """List the revisions of a flow's YAML, newest first."""
        flow = selectors.flow_get(account=request.user, flow_id=id)
        return paginate(self, request, selectors.flow_revisions(flow=flow), RevisionSerializer)


class FlowRestoreView(WorkflowDevAPIView):
    @extend_schema(
        summary="Restore a revision (saved as a new revision)",
        request=None,
        responses={200: FlowSerializer, 403: ROLE_REFUSED, 404: FLOW_ERRORS[404]},
    )
    def post(self, request: Request, id: str, rev: int) -> Response:
        """Restore an earlier revision of a flow's YAML; it is saved as a new revision."""
        flow = selectors.flow_get(account=request.user, flow_id=id)
        return Response(FlowSerializer(flow_restore(actor=request.user, flow=flow, revision=rev)).data)


class FlowExecuteView(WorkflowDevAPIView):
    parser_classes = [JSONParser, UploadParser]

    @extend_schema(
        summary="Execute a flow",
        request={"application/json": OpenApiTypes.OBJECT, "multipart/form-data": OpenApiTypes.OBJECT},
        description="The optional JSON body is the inputs, checked against the flow's declared inputs. "
        "As multipart/form-data, each text field is an input and each file part the file of a FILE input "
        "(its value becomes the stored file's millrace:/// URI). "
        "`labels=key:value` (repeatable) adds labels to the flow's own.",
        parameters=[OpenApiParameter("labels", str, many=True, description="key:value, repeatable")],
        responses={
            201: ExecuteResponseSerializer,
            403: ROLE_REFUSED,
            404: FLOW_ERRORS[404],
            413: OpenApiResponse(description="A file over MILLRACE_MAX_FILE_BYTES"),
            422: FLOW_ERRORS[422],
        },
    )
    def post(self, request: Request, id: str) -> Response:
        flow = selectors.flow_get(account=request.user, flow_id=id)
        content_length_required(request, "inputs")
        files: dict[str, UploadedFile] = {}
        if isinstance(request.data, QueryDict):
            inputs, files = form_inputs(request)
        else:
            inputs = request.data if request.data not in (None, "") else {}
        if not isinstance(inputs, dict):
            raise ValidationFailed(
                "The inputs must be a JSON object.", details=[{"field": "", "reason": "not an object"}]
            )
        labels = dict(label_pairs(request.query_params.getlist("labels")))
        execution = execution_start(
            actor=request.user, flow=flow, inputs=dict(inputs), files=files, origin="api", labels=labels
        )
        answer = {"executionId": execution.pk, "status": execution.status, "tasksTotal": execution.tasks_total}
        return Response(ExecuteResponseSerializer(answer).data, status=status.HTTP_201_CREATED)
