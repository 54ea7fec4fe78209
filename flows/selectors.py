"""Reads of flows, revisions and triggers, scoped to the caller's namespaces (404 outside)."""

from uuid import UUID

from django.db import connection
from django.db.models import QuerySet

from accounts.models import Account
from accounts.selectors import scope_to_namespaces
from core.errors import NotFound
from core.ids import parse_uuid
from flows.models import Flow, FlowRevision, Trigger


def flow_list(
    *, account: Account, namespaces: list[str] | None = None, tag: str | None = None, q: str | None = None
) -> QuerySet[Flow]:
    queryset = scope_to_namespaces(Flow.objects.select_related("namespace"), account=account)
    if namespaces:
        queryset = queryset.filter(namespace__name__in=namespaces)
    if tag:
        queryset = flows_tagged(queryset, tag=tag)
    if q:
        queryset = queryset.filter(name__icontains=q)
    return queryset.order_by("created_at", "id")


def flows_tagged(queryset: QuerySet[Flow], *, tag: str) -> QuerySet[Flow]:
    """The flows of `queryset` carrying `tag` (a JSON list: containment on PostgreSQL, a quoted match elsewhere)."""
    if _json_contains():
        return queryset.filter(tags__contains=[tag])
    return queryset.filter(tags__icontains=f'"{tag}"')


def _json_contains() -> bool:
    return connection.vendor == "postgresql"


def flow_get(*, account: Account, flow_id: UUID | str) -> Flow:
    """The flow, or 404 when it does not exist or sits in a namespace the account cannot read."""
    flow = (
        scope_to_namespaces(Flow.objects.select_related("namespace"), account=account)
        .filter(pk=parse_uuid(flow_id, what="Flow"))
        .first()
    )
    if flow is None:
        raise NotFound("Flow not found.")
    return flow


def flow_revisions(*, flow: Flow) -> QuerySet[FlowRevision]:
    return flow.revisions.select_related("created_by").order_by("-number")


def trigger_list(*, account: Account, flow_id: UUID | str | None = None) -> QuerySet[Trigger]:
    queryset = scope_to_namespaces(
        Trigger.objects.select_related("flow__namespace"), account=account, field="flow__namespace"
    )
    if flow_id:
        queryset = queryset.filter(flow_id=parse_uuid(flow_id, what="Flow"))
    return queryset.order_by("created_at", "id")


def trigger_get(*, account: Account, trigger_id: UUID | str) -> Trigger:
    trigger = trigger_list(account=account).filter(pk=parse_uuid(trigger_id, what="Trigger")).first()
    if trigger is None:
        raise NotFound("Trigger not found.")
    return trigger
