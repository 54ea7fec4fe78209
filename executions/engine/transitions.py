"""The one function that writes statuses, checked against the allowed-transition tables.

Every write is conditional on the status the caller saw (`WHERE status = <seen>`), so two
workers racing on one row cannot both win; the loser gets `StaleStatus`. Each transition
appends an ExecutionEvent in the same transaction. Inside `writes.deferred_writes()` the
write is queued and checked when the block flushes (the runner's chained steps).
"""

from typing import Any

from django.utils import timezone

from executions.engine.events import event_append, events_append_many
from executions.engine.writes import pending as pending_writes
from executions.models import (
    TERMINAL_EXECUTION_STATUSES,
    Execution,
    ExecutionEvent,
    ExecutionStatus,
    TaskRun,
    TaskStatus,
)

E, T = ExecutionStatus, TaskStatus

EXECUTION_TRANSITIONS: dict[str, frozenset[str]] = {
    E.QUEUED: frozenset({E.RUNNING, E.PAUSED, E.CANCELLED, E.FAILED, E.TIMED_OUT}),
    E.RUNNING: frozenset({E.WAITING, E.PAUSED, E.SUCCESS, E.FAILED, E.CANCELLED, E.TIMED_OUT}),
    E.WAITING: frozenset({E.RUNNING, E.PAUSED, E.SUCCESS, E.FAILED, E.CANCELLED, E.TIMED_OUT}),
    E.PAUSED: frozenset({E.RUNNING, E.QUEUED, E.CANCELLED, E.FAILED, E.TIMED_OUT}),
    E.SUCCESS: frozenset(),
    E.FAILED: frozenset({E.QUEUED}),
    E.CANCELLED: frozenset({E.QUEUED}),
    E.TIMED_OUT: frozenset({E.QUEUED}),
}

TASK_TRANSITIONS: dict[str, frozenset[str]] = {
    T.PENDING: frozenset({T.QUEUED, T.RUNNING, T.SKIPPED, T.CANCELLED}),
    T.QUEUED: frozenset({T.RUNNING, T.SKIPPED, T.CANCELLED}),
    T.RUNNING: frozenset({T.SUCCESS, T.FAILED, T.WAITING, T.RETRYING, T.TIMED_OUT, T.CANCELLED, T.QUEUED}),
    T.WAITING: frozenset({T.RUNNING, T.SUCCESS, T.FAILED, T.TIMED_OUT, T.CANCELLED, T.QUEUED}),
    T.RETRYING: frozenset({T.QUEUED, T.RUNNING, T.CANCELLED, T.FAILED, T.TIMED_OUT}),
    T.SUCCESS: frozenset(),
    T.SKIPPED: frozenset(),
    T.FAILED: frozenset({T.QUEUED}),
    T.CANCELLED: frozenset({T.QUEUED}),
    T.TIMED_OUT: frozenset({T.QUEUED}),
}

TERMINAL_TASK_STATUSES = frozenset({T.SUCCESS, T.FAILED, T.SKIPPED, T.CANCELLED, T.TIMED_OUT})


class IllegalTransition(Exception):
    """The table does not allow this move (e.g. SUCCESS → RUNNING)."""


class StaleStatus(Exception):
    """The row's status changed since it was read; another worker or request won."""


def allowed(current: str, target: str, *, task: bool) -> bool:
    table = TASK_TRANSITIONS if task else EXECUTION_TRANSITIONS
    return target in table.get(current, frozenset())


def transition(
    obj: Execution | TaskRun,
    to: str,
    *,
    message: str = "",
    level: str = "info",
    data: dict[str, Any] | None = None,
    expect: dict[str, Any] | None = None,
    **fields: Any,
) -> None:
    """Move `obj` to status `to`, writing `fields` with it, and record the event.

    `expect` adds conditions besides the status the caller saw (a worker's lease). Must run
    inside a transaction (the event and the status commit together).
    """
    task = isinstance(obj, TaskRun)
    current = obj.status
    if not allowed(current, to, task=task):
        kind = "task run" if task else "execution"
        raise IllegalTransition(f"A {kind} cannot go from {current} to {to}.")
    now = timezone.now()
    fields["updated_at"] = now
    terminal = to in (TERMINAL_TASK_STATUSES if task else TERMINAL_EXECUTION_STATUSES)
    if to == "RUNNING" and obj.started_at is None:
        fields.setdefault("started_at", now)
    if terminal:
        fields.setdefault("finished_at", now)
    elif current in (TERMINAL_TASK_STATUSES if task else TERMINAL_EXECUTION_STATUSES):
        fields.setdefault("finished_at", None)
    writes = pending_writes()
    if writes is not None:  # sent with the transaction's other writes; checked when flushed
        writes.update(obj, {"status": current, **(expect or {})}, {"status": to, **fields})
    elif not type(obj).objects.filter(pk=obj.pk, status=current, **(expect or {})).update(status=to, **fields):
        raise StaleStatus(f"{type(obj).__name__} {obj.pk} is no longer {current}.")
    obj.status = to
    for name, value in fields.items():
        setattr(obj, name, value)
    event_data = {"status": to, "previous": current, **(data or {})}
    if task:
        event_append(
            execution_id=obj.execution_id,
            task_run_id=obj.pk,
            type="task_status",
            message=message,
            level=level,
            data={"step": obj.step_id, "name": obj.name, "plugin": obj.plugin_type, **event_data},
        )
    else:
        event_append(execution_id=obj.pk, type="execution_status", message=message, level=level, data=event_data)


def task_runs_create(runs: list[TaskRun]) -> None:
    """Insert new task runs in their initial status (PENDING/QUEUED/RUNNING), one event each."""
    now = timezone.now()
    for run in runs:
        if run.status not in (T.PENDING, T.QUEUED, T.RUNNING):
            raise IllegalTransition(f"A task run cannot be created {run.status}.")
        run.created_at = run.updated_at = now
        if run.status == T.RUNNING and run.started_at is None:
            run.started_at = now
    writes = pending_writes()
    if writes is not None:
        writes.insert(runs)
    else:
        TaskRun.objects.bulk_create(runs)
    events_append_many(
        [
            ExecutionEvent(
                execution_id=run.execution_id,
                task_run_id=run.pk,
                type="task_status",
                message=f"Step '{run.name}' {'started' if run.status == T.RUNNING else 'queued'}",
                data={
                    "step": run.step_id,
                    "name": run.name,
                    "plugin": run.plugin_type,
                    "status": run.status,
                    "previous": None,
                },
            )
            for run in runs
        ]
    )
