"""Reads of agents, messages and workflows (flows), scoped to the caller's namespaces (404 outside)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.db.models import Count, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Account, AuditEntry
from accounts.selectors import scope_to_namespaces
from core.errors import NotFound
from core.ids import parse_uuid
from executions.models import AgentLog, Message
from flows.models import Agent, AgentLink, Flow

#: The names of `agents.flow_types.FlowAgent`, which starts a flow per message.
FLOW_AGENT_TYPES = ("Agents::FlowAgent", "FlowAgent")


def live_messages() -> Q:
    """Messages not yet expired (the purge job removes expired ones a little later)."""
    return Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())


def with_counts(queryset: QuerySet[Agent]) -> QuerySet[Agent]:
    """`live_messages_count` (the messages not yet expired) and the incoming links (for
    `sources`), without a query per agent.

    The stored counter `messages_count` less the agent's expired messages the purge has not
    removed yet: those are few and found through the `expires_at` index, so the cost does not
    grow with the messages an agent keeps (a count over them all did).
    """
    expired = (
        Message.objects.filter(agent_id=OuterRef("pk"), expires_at__lte=timezone.now())
        .order_by()
        .values("agent_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return queryset.annotate(live_messages_count=F("messages_count") - Coalesce(Subquery(expired), 0)).prefetch_related(
        Prefetch("incoming_links", queryset=AgentLink.objects.order_by("id").only("id", "source_id", "receiver_id"))
    )


def agent_list(*, account: Account) -> QuerySet[Agent]:
    return with_counts(scope_to_namespaces(Agent.objects.all(), account=account)).order_by("created_at", "id")


def agent_get(*, account: Account, agent_id: Any) -> Agent:
    agent = (
        scope_to_namespaces(Agent.objects.select_related("namespace"), account=account)
        .filter(pk=parse_uuid(agent_id, what="Agent"))
        .first()
    )
    if agent is None:
        raise NotFound("Agent not found.")
    return agent


def agent_with_counts(agent: Agent) -> Agent:
    return with_counts(Agent.objects.select_related("namespace")).get(pk=agent.pk)


def message_list(*, agent: Agent, after: datetime | None = None, limit: int | None = None) -> QuerySet[Message]:
    """The agent's messages, newest first."""
    queryset = Message.objects.filter(agent=agent).filter(live_messages()).order_by("-id")
    if after is not None:
        queryset = queryset.filter(created_at__gt=after)
    return queryset[:limit] if limit is not None else queryset


def message_get(*, account: Account, message_id: Any) -> Message:
    message = (
        scope_to_namespaces(Message.objects.select_related("agent"), account=account, field="agent__namespace")
        .filter(uuid=parse_uuid(message_id, what="Message"))
        .filter(live_messages())
        .first()
    )
    if message is None:
        raise NotFound("Message not found.")
    return message


def workflow_list(*, account: Account) -> QuerySet[Flow]:
    return scope_to_namespaces(Flow.objects.all(), account=account).order_by("created_at", "id")


def workflow_get(*, account: Account, workflow_id: Any) -> Flow:
    flow = (
        scope_to_namespaces(Flow.objects.select_related("namespace"), account=account)
        .filter(pk=parse_uuid(workflow_id, what="Workflow"))
        .first()
    )
    if flow is None:
        raise NotFound("Workflow not found.")
    return flow


def workflow_agents(flow: Flow) -> QuerySet[Agent]:
    return with_counts(flow.agents.filter(namespace_id=flow.namespace_id)).order_by("created_at", "id")


def workflows_with_agents(*, account: Account) -> QuerySet[Flow]:
    """The caller's flows that group agents (ActiveWorkflow workflows), with `agents_count`."""
    return (
        workflow_list(account=account)
        .select_related("namespace")
        .annotate(agents_count=Count("agents", distinct=True))
        .filter(agents_count__gt=0)
        .order_by("namespace__name", "name")
    )


def workflow_links(flow: Flow) -> list[tuple[Any, Any]]:
    """(source id, receiver id) of the links between agents of the workflow, in a fixed order."""
    members = flow.agents.filter(namespace_id=flow.namespace_id).values("pk")
    links = AgentLink.objects.filter(source_id__in=members, receiver_id__in=members).order_by("id")
    return list(links.values_list("source_id", "receiver_id"))


def agent_links(agent: Agent) -> tuple[list[AgentLink], list[AgentLink]]:
    """Where the agent's messages come from (with each link's cursor) and where they go."""
    incoming = list(agent.incoming_links.select_related("source").order_by("source__name"))
    outgoing = list(agent.outgoing_links.select_related("receiver").order_by("receiver__name"))
    return incoming, outgoing


def agent_activity(*, agent: Agent, limit: int = 20) -> list[AuditEntry]:
    """The newest audit entries about the agent: edits, runs asked for, manual messages."""
    agent_id = str(agent.pk)
    about = Q(resource_type="agent", resource_id=agent_id) | Q(action="agent.message", summary__agent=agent_id)
    return list(AuditEntry.objects.filter(about).order_by("-created_at")[:limit])


def agent_log_list(*, agent: Agent, limit: int = 50) -> list[AgentLog]:
    """The agent's newest log lines (the caller has already checked it may see the agent)."""
    return list(agent.logs.order_by("-id")[:limit])


def agents_with_errors(*, account: Account, limit: int = 10) -> QuerySet[Agent]:
    """Agents whose last run failed, the most recent first (the console's dashboard)."""
    queryset = scope_to_namespaces(Agent.objects.select_related("namespace"), account=account)
    return (
        queryset.exclude(last_error="")
        .only("id", "name", "type", "namespace__name", "last_error", "last_run_at", "disabled")
        .order_by(F("last_run_at").desc(nulls_last=True), "name")[:limit]
    )


def namespace_flow(*, namespace_id: Any, flow_id: Any = None, name: Any = None) -> Flow | None:
    """The flow of that id (or name) in the namespace; None for a missing one or one elsewhere."""
    flows = Flow.objects.select_related("namespace").filter(namespace_id=namespace_id)
    if flow_id is not None:
        try:
            return flows.filter(pk=UUID(str(flow_id))).first()
        except ValueError:
            return None
    return flows.filter(name=str(name)).first() if name else None


def started_flows(agents: list[Agent]) -> dict[Any, Flow]:
    """The flow each FlowAgent among `agents` starts, when its options name one of its namespace
    literally (a templated one is known only when it runs): for the workflow graph."""
    found = {}
    for agent in agents:
        options = agent.options if isinstance(agent.options, dict) else {}
        if agent.type not in FLOW_AGENT_TYPES:
            continue
        flow_id = options.get("flow_id")
        name = None if flow_id else options.get("flow_name")
        flow = namespace_flow(namespace_id=agent.namespace_id, flow_id=flow_id or None, name=name)
        space = options.get("namespace")
        if flow is not None and (flow_id or not space or space == flow.namespace.name):
            found[agent.pk] = flow
    return found
