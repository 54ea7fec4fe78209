"""The one function that writes statuses, checked against the allowed-transition tables.

Statuses of executions, task runs and approvals are written here and nowhere else; new rows
start in their initial status (the model's default, or one `task_runs_create` checks).
Every write is conditional on the status the caller saw (`WHERE status = <seen>`), so two
workers racing on one row cannot both win; the loser gets `StaleStatus`. Each transition
appends an ExecutionEvent in the same transaction, and an end is reported to the metrics and
the log (`executions.metrics`) once it commits. Inside `writes.deferred_writes()` the
write is queued and checked when the block flushes (the runner's chained steps).
"""

from datetime import datetime
from typing import Any

from django.utils import timezone

from executions.engine.events import event_append, events_append_many
from executions.engine.nulchars import without_nul
from executions.engine.writes import pending as pending_writes
from executions.metrics import status_written
from executions.models import (
    TERMINAL_EXECUTION_STATUSES,
    Approval,
    Execution,
    ExecutionEvent,
    ExecutionStatus,
    TaskRun,
    TaskStatus,
)

E, T, A = ExecutionStatus, TaskStatus, Approval.Status

EXECUTION_TRANSITIONS: dict[str, frozenset[str]] = {
    E.QUEUED: frozenset({E.RUNNING, E.PAUSED, E.CANCELLED, E.FAILED, E.TIMED_OUT}),
    E.RUNNING: frozenset({E.WAITING, E.PAUSED, E.SUCCESS, E.WARNING, E.FAILED, E.CANCELLED, E.TIMED_OUT}),
    E.WAITING: frozenset({E.RUNNING, E.PAUSED, E.SUCCESS, E.WARNING, E.FAILED, E.CANCELLED, E.TIMED_OUT}),
    E.PAUSED: frozenset({E.RUNNING, E.QUEUED, E.CANCELLED, E.FAILED, E.TIMED_OUT}),
    E.SUCCESS: frozenset(),
    E.WARNING: frozenset(),
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

#: An approval is decided once; a retried gate opens a new one (`approval_open`).
APPROVAL_TRANSITIONS: dict[str, frozenset[str]] = {
    A.PENDING: frozenset({A.APPROVED, A.REJECTED}),
    A.APPROVED: frozenset(),
    A.REJECTED: frozenset(),
}


class IllegalTransition(Exception):
    """The table does not allow this move (e.g. SUCCESS → RUNNING)."""


class StaleStatus(Exception):
    """The row's status changed since it was read; another worker or request won."""


def allowed(current: str, target: str, *, task: bool = False, approval: bool = False) -> bool:
    table = APPROVAL_TRANSITIONS if approval else TASK_TRANSITIONS if task else EXECUTION_TRANSITIONS
    return target in table.get(current, frozenset())


def transition(
    obj: Execution | TaskRun | Approval,
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
    inside a transaction (the event and the status commit together). An approval's decision
    has no event of its own: the gate's task run records it.
    """
    if isinstance(obj, Approval):
        _approval_transition(obj, to, expect, fields)
        return
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
    elif (
        not type(obj)
        .objects.filter(pk=obj.pk, status=current, **(expect or {}))
        .update(status=to, **without_nul(fields))
    ):
        raise StaleStatus(f"{type(obj).__name__} {obj.pk} is no longer {current}.")
    obj.status = to
    for name, value in fields.items():
        setattr(obj, name, value)
    status_written(obj)  # counted and logged once the transaction commits
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


def _approval_transition(approval: Approval, to: str, expect: dict[str, Any] | None, fields: dict[str, Any]) -> None:
    current = approval.status
    if not allowed(current, to, approval=True):
        raise IllegalTransition(f"An approval cannot go from {current} to {to}.")
    if not Approval.objects.filter(pk=approval.pk, status=current, **(expect or {})).update(status=to, **fields):
        raise StaleStatus(f"Approval {approval.pk} is no longer {current}.")
    approval.status = to
    for name, value in fields.items():
        setattr(approval, name, value)


def approval_close_pending(run: TaskRun, to: str, **fields: Any) -> int:
    """Decide the step's approval `to` if it is still pending (its step ended without a
    decision), in one conditional statement; returns how many were decided (0 or 1)."""
    if not allowed(A.PENDING, to, approval=True):
        raise IllegalTransition(f"An approval cannot go from {A.PENDING} to {to}.")
    fields.setdefault("decided_at", timezone.now())
    return Approval.objects.filter(task_run=run, status=A.PENDING).update(status=to, **fields)


def approval_open(run: TaskRun) -> Approval:
    """The pending approval a gate step waits for; a retried gate's earlier one starts afresh."""
    approval, _ = Approval.objects.update_or_create(
        task_run=run,
        defaults={
            "execution": run.execution,
            "status": A.PENDING,
            "decided_by": None,
            "comment": "",
            "decided_at": None,
        },
    )
    return approval


def task_run_lease_new(run: TaskRun, owner: str, until: datetime) -> None:
    """Start a task run not yet inserted RUNNING, leased to `owner` (the worker runs it inline)."""
    if run.status not in (T.PENDING, T.QUEUED):
        raise IllegalTransition(f"A new task run cannot start from {run.status}.")
    run.status = T.RUNNING
    run.attempt = 1
    run.lease_owner = owner
    run.lease_until = until
    run.started_at = timezone.now()


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
        [_created_event(run, f"Step '{run.name}' {'started' if run.status == T.RUNNING else 'queued'}") for run in runs]
    )


def _created_event(run: TaskRun, message: str, **data: Any) -> ExecutionEvent:
    """The `task_status` event of a task run that comes into being (it had no status before)."""
    return ExecutionEvent(
        execution_id=run.execution_id,
        task_run_id=run.pk,
        type="task_status",
        message=message,
        data={"step": run.step_id, "name": run.name, "plugin": run.plugin_type, "status": run.status, "previous": None}
        | data,
    )


def task_runs_copy(runs: list[TaskRun], *, original_id: Any) -> None:
    """Insert the task runs a replay keeps from execution `original_id`: SUCCESS steps with
    their outputs, and RUNNING the control steps the replayed step sits in (their children
    are walked again). One event each."""
    for run in runs:
        if run.status not in (T.SUCCESS, T.RUNNING):
            raise IllegalTransition(f"A replay keeps SUCCESS steps and re-opens RUNNING ones, not {run.status}.")
    TaskRun.objects.bulk_create(runs)
    events_append_many(
        [
            _created_event(
                run,
                f"Step '{run.name}' {'kept' if run.status == T.SUCCESS else 're-opened'} from execution {original_id}",
                originalId=str(original_id),
            )
            for run in runs
        ]
    )
