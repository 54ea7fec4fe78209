"""Reads of executions, task runs, events and approvals, scoped to the caller's namespaces."""

from collections.abc import Iterable
from datetime import datetime
from typing import IO
from uuid import UUID

from django.db.models import Count, Prefetch, QuerySet

from accounts.models import Account, Namespace
from accounts.selectors import annotate_creator_role, namespace_match, scope_to_namespaces
from core.errors import NotFound
from core.ids import parse_uuid
from executions.engine.concurrency import slot_wait_text
from executions.models import Approval, Execution, ExecutionEvent, ExecutionLabel, ExecutionStatus, TaskRun
from files.selectors import execution_file_open, execution_file_size

LEVELS = ("debug", "info", "warn", "error")
PAGE_TASKS_ATTR = "page_task_runs"
"""Where `execution_page` (and a caller rendering one run the same way) puts a run's task runs."""
PAGE_TASK_FIELDS = ("id", "execution_id", "name", "sequence", "plugin_type", "status", "loop_index")


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
        # by id, not by a join on the name: one namespace's rows then come newest first from
        # the (namespace, created_at, id) index, without sorting all of them
        ids = Namespace.objects.filter(name__in=list(namespaces)).values_list("id", flat=True)
        queryset = queryset.filter(namespace_match("namespace", list(ids)))
    if flow_id:
        queryset = queryset.filter(flow_id=parse_uuid(flow_id, what="Flow"))
    if statuses is not None:
        queryset = queryset.filter(status__in=list(statuses))
    if created_after is not None:
        queryset = queryset.filter(created_at__gte=created_after)
    if created_before is not None:
        queryset = queryset.filter(created_at__lte=created_before)
    return queryset.defer("source").order_by("-created_at", "-id")


def executions_labelled(queryset: QuerySet[Execution], *, labels: Iterable[tuple[str, str]]) -> QuerySet[Execution]:
    """Only executions carrying every `(key, value)` of `labels`.

    One `IN (SELECT ...)` per label on the `(key, value, execution)` index: each reads only the
    matching label rows, on SQLite and PostgreSQL alike (see docs/decisions.md).
    """
    for key, value in labels:
        queryset = queryset.filter(pk__in=ExecutionLabel.objects.filter(key=key, value=value).values("execution_id"))
    return queryset


def labels_in_use(queryset: QuerySet[Execution], *, limit: int = 50) -> list[tuple[str, str]]:
    """The distinct `(key, value)` labels of `queryset`'s executions, sorted, at most `limit`."""
    rows = ExecutionLabel.objects.filter(execution__in=queryset.values("pk")).values_list("key", "value")
    return list(rows.distinct().order_by("key", "value")[:limit])


def execution_get(*, account: Account, execution_id: UUID | str) -> Execution:
    execution = (
        scope_to_namespaces(Execution.objects.select_related("namespace", "flow"), account=account)
        .filter(pk=parse_uuid(execution_id, what="Execution"))
        .first()
    )
    if execution is None:
        raise NotFound("Execution not found.")
    return execution


def execution_file(*, account: Account, execution_id: UUID | str, uri: str) -> tuple[str, IO[bytes]]:
    """(file name, open file) of a file of an execution the caller may read, by URI, for every
    dialect's download: an execution outside the caller's namespaces is "Execution not found."
    as a missing one, and a URI outside that execution (another's, another namespace's) or of no
    file "File not found."; a `path` that is no `millrace:///` URI is a 400."""
    execution = execution_get(account=account, execution_id=execution_id)
    return execution_file_open(namespace_name=execution.namespace.name, execution_id=str(execution.pk), uri=uri)


def execution_file_bytes(*, account: Account, execution_id: UUID | str, uri: str) -> int:
    """The size of a file of an execution the caller may read, under the rules of `execution_file`."""
    execution = execution_get(account=account, execution_id=execution_id)
    return execution_file_size(namespace_name=execution.namespace.name, execution_id=str(execution.pk), uri=uri)


def execution_page(
    queryset: QuerySet[Execution], *, order: Iterable[str], include_loop_tasks: bool = False
) -> QuerySet[Execution]:
    """Everything a list page renders, in a fixed number of queries whatever its size.

    The creator by join, the namespaces by one query, the creator's role by one subquery (read it with
    `accounts.selectors.creator_role`), task runs by one prefetch into `PAGE_TASKS_ATTR`
    (only the fields a list shows; forEach iterations only with `include_loop_tasks`).
    `queryset` is already scoped, e.g. by `execution_list`.
    """
    tasks = TaskRun.objects.all()
    if not include_loop_tasks:
        tasks = tasks.filter(loop_index__isnull=True)
    tasks = tasks.only(*PAGE_TASK_FIELDS).order_by("sequence")
    # the namespaces by a query of their own, not a join: joined, SQLite reads them first and
    # then sorts every execution of the namespace instead of reading its index newest first
    return (
        annotate_creator_role(queryset.select_related(None).select_related("created_by"))
        .prefetch_related("namespace", Prefetch("task_runs", queryset=tasks, to_attr=PAGE_TASKS_ATTR))
        .order_by(*order)
    )


def task_runs(
    *, execution: Execution, include_children: bool = True, include_loop_tasks: bool = True
) -> QuerySet[TaskRun]:
    """A run's task runs in order; without children (`parent`) or forEach iterations (`loop_index`) on request."""
    queryset = execution.task_runs.select_related("approval").order_by("sequence")
    if not include_children:
        queryset = queryset.filter(parent__isnull=True)
    if not include_loop_tasks:
        queryset = queryset.filter(loop_index__isnull=True)
    return queryset


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


ACTIVE_STATUSES = (ExecutionStatus.RUNNING, ExecutionStatus.WAITING, ExecutionStatus.PAUSED)
FAILED_STATUSES = (ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT)
DASHBOARD_FIELDS = (
    "id",
    "flow_name",
    "namespace__name",
    "status",
    "error",
    "tasks_total",
    "tasks_executed",
    "created_at",
    "started_at",
    "finished_at",
)


def execution_status_counts(*, account: Account, since: datetime) -> dict[str, int]:
    """Executions created since `since`, counted by status in one query."""
    rows = (
        scope_to_namespaces(Execution.objects.all(), account=account)
        .filter(created_at__gte=since)
        .values("status")
        .annotate(count=Count("id"))
        .order_by()
    )
    return {row["status"]: row["count"] for row in rows}


def executions_in_progress(*, account: Account, limit: int = 20) -> QuerySet[Execution]:
    """Running, waiting and paused executions, oldest first: the ones that may need a look."""
    return (
        execution_list(account=account, statuses=ACTIVE_STATUSES)
        .only(*DASHBOARD_FIELDS)
        .order_by("created_at", "id")[:limit]
    )


def executions_failed_recently(*, account: Account, limit: int = 10) -> QuerySet[Execution]:
    """The latest failed or timed-out executions, with their error."""
    return execution_list(account=account, statuses=FAILED_STATUSES).only(*DASHBOARD_FIELDS)[:limit]


def execution_slot_wait(*, execution: Execution) -> str:
    """Why a QUEUED execution waits for its flow's concurrency limit, with the live count
    ("Waiting for a concurrency slot: 2 of 2 running"); "" when it does not."""
    return slot_wait_text(execution)
