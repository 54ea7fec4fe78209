"""Reads of executions, task runs, events and approvals, scoped to the caller's namespaces."""

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from django.db.models import QuerySet

from accounts.models import Account
from accounts.selectors import scope_to_namespaces
from core.errors import NotFound
from core.ids import parse_uuid
from executions.models import Approval, Execution, ExecutionEvent, TaskRun

LEVELS = ("debug", "info", "warn", "error")


def execution_list(
    *,
    account: Account,
    namespaces: Iterable[str] | None = None,
    flow_id: UUID | str | None = None,
    statuses: Iterable[str] | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[Execution]:
    queryset = scope_to_namespaces(Execution.objects.select_related("namespace"), account=account)
    if namespaces is not None:
        queryset = queryset.filter(namespace__name__in=list(namespaces))
    if flow_id:
        queryset = queryset.filter(flow_id=parse_uuid(flow_id, what="Flow"))
    if statuses is not None:
        queryset = queryset.filter(status__in=list(statuses))
    if created_after is not None:
        queryset = queryset.filter(created_at__gte=created_after)
    if created_before is not None:
        queryset = queryset.filter(created_at__lte=created_before)
    return queryset.defer("source").order_by("-created_at", "-id")


def execution_get(*, account: Account, execution_id: UUID | str) -> Execution:
    execution = (
        scope_to_namespaces(Execution.objects.select_related("namespace", "flow"), account=account)
        .filter(pk=parse_uuid(execution_id, what="Execution"))
        .first()
    )
    if execution is None:
        raise NotFound("Execution not found.")
    return execution


def task_runs(*, execution: Execution, include_children: bool = True) -> QuerySet[TaskRun]:
    queryset = execution.task_runs.select_related("approval").order_by("sequence")
    return queryset if include_children else queryset.filter(parent__isnull=True)


def execution_events(
    *, execution: Execution, after_id: int = 0, min_level: str | None = None, types: Iterable[str] | None = None
) -> QuerySet[ExecutionEvent]:
    """Events in order; `min_level` is a minimum (`warn` gives warn and error)."""
    queryset = execution.events.select_related("task_run").filter(id__gt=after_id).order_by("id")
    if min_level:
        queryset = queryset.filter(level__in=LEVELS[LEVELS.index(min_level) :])
    if types is not None:
        queryset = queryset.filter(type__in=list(types))
    return queryset


def approval_list(
    *, account: Account, execution_id: UUID | str | None = None, status: str | None = None
) -> QuerySet[Approval]:
    queryset = scope_to_namespaces(
        Approval.objects.select_related("task_run", "execution__namespace", "decided_by"),
        account=account,
        field="execution__namespace",
    )
    if execution_id:
        queryset = queryset.filter(execution_id=parse_uuid(execution_id, what="Execution"))
    if status:
        queryset = queryset.filter(status=status)
    return queryset.order_by("-created_at")


def approval_get(*, account: Account, approval_id: UUID | str) -> Approval:
    approval = approval_list(account=account).filter(pk=parse_uuid(approval_id, what="Approval")).first()
    if approval is None:
        raise NotFound("Approval not found.")
    return approval
