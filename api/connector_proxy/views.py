"""Connector proxy endpoints: they translate requests to the command table (`commands`) and render envelopes."""

from typing import Any

from django.http import HttpResponse
from drf_spectacular.plumbing import build_array_type, build_basic_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import ParseError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from accounts.models import Account
from api.connector_proxy.authentication import ConnectorApiKeyAuthentication, IsAccountOrBackend
from api.connector_proxy.commands import command_list_json, run_command
from api.connector_proxy.dialect import DIALECT
from api.connector_proxy.protocol import Caller, envelope
from api.dialect import DialectViewMixin
from core.errors import BadRequest
from executions.services import task_complete_callback


class ConnectorAPIView(DialectViewMixin, APIView):
    dialect = DIALECT
    authentication_classes = [*api_settings.DEFAULT_AUTHENTICATION_CLASSES, ConnectorApiKeyAuthentication]
    permission_classes = [IsAccountOrBackend]


class LivenessView(ConnectorAPIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(responses={200: dict}, summary="Liveness")
    def get(self, request: Request) -> Response:
        """Liveness: answers 200 while the proxy serves requests."""
        return Response({"ok": True})


class CommandListView(ConnectorAPIView):
    @extend_schema(
        responses={200: build_array_type(build_basic_type(OpenApiTypes.OBJECT))},
        summary="List the commands and their parameters",
    )
    def get(self, request: Request) -> HttpResponse:
        """List the available commands of each plugin, with their parameters: the http commands,
        `millrace/RunFlow`, and `flows/<namespace>/<name>` for each flow the caller may run."""
        return HttpResponse(command_list_json(_caller(request)), content_type="application/json")


class CommandRunView(ConnectorAPIView):
    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            (202, "application/json"): OpenApiTypes.OBJECT,
            (403, "application/json"): OpenApiResponse(description="millrace/RunFlow needs an executor's token"),
        },
        summary="Run a command; the outer status equals command_response.http_status",
    )
    def post(self, request: Request, plugin: str, command: str) -> Response:
        """Execute a command, e.g. `http/GetRequest`, with its parameters. The answer is the command's response
        envelope; its status is the command's `http_status`."""
        result = run_command(f"{plugin}/{command}", _body(request), _caller(request))
        return Response(result.as_envelope(), status=result.outer_status)


class FlowCommandRunView(ConnectorAPIView):
    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={
            (200, "application/json"): OpenApiResponse(
                OpenApiTypes.OBJECT, description="The flow ended: its outputs are `command_response.body`"
            ),
            (202, "application/json"): OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="Running: the result goes to `spiff__callback_url`, or `task_id` is the execution id",
            ),
            (400, "application/json"): OpenApiResponse(
                OpenApiTypes.OBJECT, description="`invalid_parameters`: an unknown input, or one of the wrong type"
            ),
            (404, "application/json"): OpenApiResponse(
                OpenApiTypes.OBJECT, description="`command_not_found`: no flow of that name the caller may run"
            ),
            (500, "application/json"): OpenApiResponse(
                OpenApiTypes.OBJECT, description="The flow failed: `error.error_code` is FLOW_FAILED, ..."
            ),
        },
        summary="Run a flow as a command; its declared inputs are the parameters",
    )
    def post(self, request: Request, namespace: str, name: str) -> Response:
        """Run the flow `name` of `namespace` (the command `flows/<namespace>/<name>`) with its inputs as
        the parameters. With `spiff__callback_url` it answers 202 and PUTs the result envelope there
        when the flow ends; without, it waits up to MILLRACE_CONNECTOR_WAIT_SECONDS for the outputs."""
        result = run_command(f"flows/{namespace}/{name}", _body(request), _caller(request))
        return Response(result.as_envelope(), status=result.outer_status)


class CallbackView(ConnectorAPIView):
    """Completes a task waiting on a long-running command. Open: the single-use token is the credential."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT}, summary="Callback")
    def put(self, request: Request, token: str) -> Response:
        try:
            payload = request.data
        except ParseError as exc:
            raise BadRequest("The callback body is not valid JSON.", code="invalid_callback_body") from exc
        run = task_complete_callback(token=token, payload=payload)
        return Response(envelope({"task_id": str(run.pk), "status": "accepted"}, http_status=200))


def _caller(request: Request) -> Caller:
    return Caller(account=request.user if isinstance(request.user, Account) else None)


def _body(request: Request) -> Any:
    """The parameters object; an empty body is no parameters."""
    if not request.body:
        return {}
    return request.data
