"""ActiveWorkflow endpoints: thin views over `agents` services and selectors.

Bare arrays, `{"error": "..."}`; a body or parameter that fails validation is a 400 here
(the reference answers 500; DIALECTS.md settles 400).
"""

import json
from collections.abc import Callable
from typing import Any

from django.http import HttpResponse
from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Account, Namespace
from accounts.permissions import IsAccount
from accounts.selectors import namespace_get
from accounts.services import namespace_home
from agents import exchange, selectors, services
from api.activeworkflow.dialect import DIALECT
from api.activeworkflow.filters import MessageFilterSet
from api.activeworkflow.serializers import (
    AgentSerializer,
    AgentWriteSerializer,
    ManualMessageSerializer,
    MessageDetailSerializer,
    MessageSerializer,
    WorkflowDetailSerializer,
    WorkflowImportSerializer,
    WorkflowSerializer,
)
from api.filtering import FilteredListMixin
from core.errors import BadRequest
from executions.models import Message
from flows.models import Agent, Flow

MAX_LIMIT = 1000
ERROR = OpenApiResponse(description='`{"error": "<short description>"}`')
#: Reads add nothing to the errors every operation documents (api.docs.COMMON_ERRORS: 401,
#: 404 on a path naming an object, 400 and 413 on a body); writes check the role too.
ERRORS: dict[int, OpenApiResponse] = {}
WRITE_ERRORS = {403: ERROR}
NAMESPACED_WRITE_ERRORS = {403: ERROR, 404: ERROR}  # the body names a namespace
WRITE_FIELDS = {"sources": "source_ids"}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """The dialect's shape; validation failures (422 elsewhere) are 400s in ActiveWorkflow."""
    response = DIALECT.exception_handler(exc, context)
    if response.status_code == 422:
        response.status_code = 400
    return response


class ActiveWorkflowView(APIView):
    permission_classes = [IsAccount]  # explicit: an open view says so itself

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response]:
        return exception_handler


def _agent_shape(agent: Agent) -> dict[str, Any]:
    return AgentSerializer(selectors.agent_with_counts(agent)).data


def _workflow_shape(flow: Flow) -> dict[str, Any]:
    return WorkflowDetailSerializer(flow, context={"agents": selectors.workflow_agents(flow)}).data


def _namespace(account: Account, name: str | None) -> Namespace:
    if name:
        return namespace_get(account=account, name=name)
    return namespace_home(account=account)


def _valid(serializer_class: type, data: Any, *, partial: bool = False) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.")
    body = serializer_class(data=data, partial=partial)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


def _limit(value: str | None) -> int | None:
    if value in (None, ""):
        return None
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if limit < 1:
        raise BadRequest("'limit' must be a positive integer.")
    return min(limit, MAX_LIMIT)


class AgentListView(ActiveWorkflowView):
    @extend_schema(summary="List your agents", responses={200: AgentSerializer(many=True), **ERRORS})
    def get(self, request: Request) -> Response:
        """Get a list of your agents."""
        return Response(AgentSerializer(selectors.agent_list(account=request.user), many=True).data)

    @extend_schema(
        summary="Create an agent",
        request=AgentWriteSerializer,
        responses={201: AgentSerializer, **NAMESPACED_WRITE_ERRORS},
    )
    def post(self, request: Request) -> Response:
        """Create an agent of a type, with its options and the agents it receives messages from."""
        data = _valid(AgentWriteSerializer, request.data)
        namespace = _namespace(request.user, data.pop("namespace", None))
        data = {WRITE_FIELDS.get(key, key): value for key, value in data.items()}
        agent = services.agent_create(actor=request.user, namespace=namespace, **data)
        return Response(_agent_shape(agent), status=status.HTTP_201_CREATED)


class AgentDetailView(ActiveWorkflowView):
    @extend_schema(summary="Get an agent", responses={200: AgentSerializer, **ERRORS})
    def get(self, request: Request, agent_id: str) -> Response:
        """Get an agent: its type, options and the agents it receives messages from."""
        agent = selectors.agent_get(account=request.user, agent_id=agent_id)
        return Response(_agent_shape(agent))

    @extend_schema(
        summary="Change an agent (the fields given)",
        request=AgentWriteSerializer,
        responses={200: AgentSerializer, **WRITE_ERRORS},
    )
    def put(self, request: Request, agent_id: str) -> Response:
        """Change an agent: the fields given are replaced, the others kept."""
        agent = selectors.agent_get(account=request.user, agent_id=agent_id)
        data = _valid(AgentWriteSerializer, request.data, partial=True)
        namespace = data.pop("namespace", None)
        if namespace and namespace != agent.namespace.name:
            raise BadRequest("An agent cannot move to another namespace.")
        data = {WRITE_FIELDS.get(key, key): value for key, value in data.items()}
        agent = services.agent_update(actor=request.user, agent=agent, **data)
        return Response(_agent_shape(agent))

    @extend_schema(summary="Delete an agent", responses={204: None, **WRITE_ERRORS})
    def delete(self, request: Request, agent_id: str) -> Response:
        """Delete an agent."""
        services.agent_delete(actor=request.user, agent=selectors.agent_get(account=request.user, agent_id=agent_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AgentMessagesView(FilteredListMixin, ActiveWorkflowView):
    filterset_class = MessageFilterSet
    queryset = Message.objects.none()  # the model, for the schema; requests use the agent's messages

    @extend_schema(
        summary="The agent's latest messages, newest first",
        parameters=[
            OpenApiParameter("limit", int, description=f"At most this many (up to {MAX_LIMIT}); default all."),
        ],
        responses={200: MessageSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request, agent_id: str) -> Response:
        """Get the latest messages the agent emitted, newest first."""
        agent = selectors.agent_get(account=request.user, agent_id=agent_id)
        messages = self.filter_queryset(selectors.message_list(agent=agent))
        limit = _limit(request.query_params.get("limit"))
        if limit is not None:
            messages = messages[:limit]
        return Response(MessageSerializer(messages, many=True).data)

    @extend_schema(
        summary="Send a manual message from this agent",
        request=ManualMessageSerializer,
        responses={201: MessageDetailSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, agent_id: str) -> Response:
        """Send a message from this agent by hand, as if it had emitted it: the agents receiving from it get it."""
        agent = selectors.agent_get(account=request.user, agent_id=agent_id)
        data = _valid(ManualMessageSerializer, request.data)
        message = services.message_create(actor=request.user, agent=agent, payload=data["payload"])
        return Response(MessageDetailSerializer(message).data, status=status.HTTP_201_CREATED)


class AgentRunView(ActiveWorkflowView):
    @extend_schema(summary="Run the agent now", request=None, responses={200: AgentSerializer, **WRITE_ERRORS})
    def post(self, request: Request, agent_id: str) -> Response:
        """Run the agent once now, outside its schedule."""
        agent = selectors.agent_get(account=request.user, agent_id=agent_id)
        services.agent_run(actor=request.user, agent=agent)
        return Response(_agent_shape(agent))


class AgentWebhookView(ActiveWorkflowView):
    """Open: the secret in the URL is the credential of a WebhookAgent."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        summary="Post a message to a WebhookAgent",
        request=OpenApiTypes.OBJECT,
        responses={201: MessageSerializer(many=True), 400: ERROR},
        auth=[],
    )
    def post(self, request: Request, agent_id: str, secret: str) -> Response:
        messages = services.webhook_receive(agent_id=agent_id, secret=secret, body=request.data)
        return Response(MessageSerializer(messages, many=True).data, status=status.HTTP_201_CREATED)


class MessageDetailView(ActiveWorkflowView):
    @extend_schema(summary="Get a message with its payload", responses={200: MessageDetailSerializer, **ERRORS})
    def get(self, request: Request, message_id: str) -> Response:
        """Get a message with its payload."""
        message = selectors.message_get(account=request.user, message_id=message_id)
        return Response(MessageDetailSerializer(message).data)


class WorkflowListView(ActiveWorkflowView):
    @extend_schema(summary="List workflows", responses={200: WorkflowSerializer(many=True), **ERRORS})
    def get(self, request: Request) -> Response:
        """Get a list of your workflows."""
        return Response(WorkflowSerializer(selectors.workflow_list(account=request.user), many=True).data)


class WorkflowDetailView(ActiveWorkflowView):
    @extend_schema(summary="Get a workflow with its agents", responses={200: WorkflowDetailSerializer, **ERRORS})
    def get(self, request: Request, workflow_id: str) -> Response:
        """Get a workflow: its name, description and agents."""
        return Response(_workflow_shape(selectors.workflow_get(account=request.user, workflow_id=workflow_id)))


class WorkflowExportView(ActiveWorkflowView):
    @extend_schema(
        summary="Download the workflow and its agents as a JSON file",
        responses={(200, "application/json"): OpenApiTypes.OBJECT, **ERRORS},
    )
    def get(self, request: Request, workflow_id: str) -> HttpResponse:
        """Export a workflow with its agents as a JSON file that the import accepts."""
        flow = selectors.workflow_get(account=request.user, workflow_id=workflow_id)
        response = HttpResponse(json.dumps(exchange.export_document(flow), indent=2), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="{slugify(flow.name) or "workflow"}.json"'
        return response


class WorkflowImportView(ActiveWorkflowView):
    @extend_schema(
        summary="Import an exported workflow",
        request=WorkflowImportSerializer,
        responses={201: WorkflowDetailSerializer, **NAMESPACED_WRITE_ERRORS},
    )
    def post(self, request: Request) -> Response:
        """Import an exported workflow: its agents are created and linked as in the export."""
        _valid(WorkflowImportSerializer, request.data)
        document = dict(request.data)
        namespace = _namespace(request.user, document.pop("namespace", None))
        flow, _ = exchange.workflow_import(
            actor=request.user, namespace=namespace, document=document, name=document.pop("name", None) or None
        )
        return Response(_workflow_shape(flow), status=status.HTTP_201_CREATED)
