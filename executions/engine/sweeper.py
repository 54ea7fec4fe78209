"""Time-driven engine work: timers and retry back-offs that are due, expired leases of dead
workers, queue messages that were lost, step and execution timeouts, callbacks due again, free
concurrency slots whose handoff was lost (`concurrency.start_waiting`), and
(every few minutes) executions past their retention (`retention`). Each row is claimed with
SKIP LOCKED, so any number of sweepers can run; each move is a conditional transition, so none
is applied twice.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from executions.engine import dispatch
from executions.engine.callbacks import queue_due_callbacks
from executions.engine.concurrency import start_waiting
from executions.engine.events import event_append
from executions.engine.lifecycle import execution_end
from executions.engine.retention import purge_due
from executions.engine.transitions import StaleStatus, transition
from executions.models import TERMINAL_EXECUTION_STATUSES, Execution, ExecutionStatus, TaskRun, TaskStatus

logger = logging.getLogger("millrace.engine")
T, E = TaskStatus, ExecutionStatus
#: Task statuses that still have work ahead (PENDING is created, not yet queued).
ACTIVE_TASK_STATUSES = (T.QUEUED, T.RUNNING, T.WAITING, T.RETRYING)
BATCH = 200
#: Execution statuses that have not ended: named, so a query by them uses the status index.
LIVE_EXECUTION_STATUSES = tuple(status for status in E if status not in TERMINAL_EXECUTION_STATUSES)


def _due(queryset):
    # Without the model's newest-first ordering: to keep it, SQLite walks the whole table in
    # `created_at` order instead of looking the few live rows up by their status's index (1.4 s a
    # sweep at a million executions, with the writer lock held).
    return queryset.order_by().select_for_update(skip_locked=True, of=("self",))[:BATCH]


def wake_due_steps(now: datetime) -> int:
    """RETRYING steps whose back-off ended and timer waits that are due go back to the queue."""
    woken = 0
    with transaction.atomic():
        for run in _due(TaskRun.objects.filter(status__in=(T.RETRYING, T.WAITING), wake_at__lte=now)):
            state = dict(run.state or {})
            if run.status == T.WAITING:
                state["resume"] = {"payload": state.get("wait")}
            try:
                transition(run, T.QUEUED, wake_at=None, state=state, message=f"Step '{run.name}' woke up")
            except StaleStatus:
                continue
            dispatch.run_task_runs([str(run.pk)])
            woken += 1
    return woken


def requeue_expired_leases(now: datetime) -> int:
    """A RUNNING step whose lease lapsed lost its worker: queue it again (at-least-once)."""
    requeued = 0
    with transaction.atomic():
        for run in _due(TaskRun.objects.filter(status=T.RUNNING, lease_until__lt=now)):
            try:
                transition(
                    run,
                    T.QUEUED,
                    lease_owner="",
                    lease_until=None,
                    level="warn",
                    message=f"Step '{run.name}' lost its worker (lease expired); queued again",
                    data={"attempt": run.attempt, "worker": run.lease_owner},
                )
            except StaleStatus:
                continue
            dispatch.run_task_runs([str(run.pk)])
            requeued += 1
    return requeued


def requeue_lost_dispatches(now: datetime) -> int:
    """Work still QUEUED long after it was queued lost its queue message (Redis restarted empty,
    a killed worker had prefetched it, or the enqueue failed): queue it again. So do executions
    that wait for an `advance_execution` with nothing active. A duplicate message is harmless:
    claims and walks are conditional on the status they saw."""
    cutoff = now - timedelta(seconds=settings.MILLRACE_REDISPATCH_SECONDS)
    idle = (E.PAUSED, *TERMINAL_EXECUTION_STATUSES)
    active = TaskRun.objects.filter(execution=OuterRef("pk"), status__in=(T.PENDING, *ACTIVE_TASK_STATUSES))
    lost_runs = TaskRun.objects.filter(status=T.QUEUED, updated_at__lt=cutoff).exclude(execution__status__in=idle)
    # an execution waiting for a concurrency slot is not lost: `start_waiting` hands it one
    lost_starts = Execution.objects.filter(status=E.QUEUED, waiting_for_slot=False, updated_at__lt=cutoff)
    stalled_executions = Execution.objects.filter(status__in=(E.RUNNING, E.WAITING), updated_at__lt=cutoff)
    with transaction.atomic():
        runs = [str(pk) for pk in _due(lost_runs.values_list("pk", flat=True))]
        starts = [str(pk) for pk in _due(lost_starts.values_list("pk", flat=True))]
        stalled = [str(pk) for pk in _due(stalled_executions.filter(~Exists(active)).values_list("pk", flat=True))]
        if not (runs or starts or stalled):
            return 0
        TaskRun.objects.filter(pk__in=runs).update(updated_at=now)  # not again before the next cutoff
        Execution.objects.filter(pk__in=starts + stalled).update(updated_at=now)
        logger.warning("Queued again after a lost dispatch: %d steps, %d executions", len(runs), len(starts + stalled))
        dispatch.run_task_runs(runs)
        for execution_id in starts:
            dispatch.start_execution(execution_id)
        for execution_id in stalled:
            dispatch.advance_execution(execution_id)
    return len(runs) + len(starts) + len(stalled)


def time_out_steps(now: datetime) -> int:
    """Steps past their `timeout` end TIMED_OUT; a late result of a running one is dropped."""
    timed_out = 0
    with transaction.atomic():
        active = (T.QUEUED, T.RUNNING, T.WAITING, T.RETRYING)
        for run in _due(TaskRun.objects.filter(status__in=active, deadline__lte=now)):
            try:
                transition(
                    run,
                    T.TIMED_OUT,
                    error=f"Step '{run.name}' timed out",
                    level="error",
                    message=f"Step '{run.name}' timed out",
                    lease_owner="",
                    lease_until=None,
                )
            except StaleStatus:
                continue
            dispatch.advance_execution(str(run.execution_id))
            timed_out += 1
    return timed_out


def time_out_executions(now: datetime) -> int:
    """Executions past their flow timeout: TIME_OUT_WF ends them, ALERT_ONLY only warns."""
    handled = 0
    with transaction.atomic():
        live = Execution.objects.filter(status__in=LIVE_EXECUTION_STATUSES)  # by the (status, deadline) index
        for execution in _due(live.filter(deadline__lte=now)):
            if execution.timeout_policy == "ALERT_ONLY":
                Execution.objects.filter(pk=execution.pk).update(deadline=None)
                event_append(
                    execution_id=execution.pk,
                    type="log",
                    level="warn",
                    message=f"Execution exceeded its timeout of {execution.timeout_seconds}s (alert only)",
                )
            else:
                try:
                    error = f"Execution timed out after {execution.timeout_seconds}s"
                    execution_end(execution, E.TIMED_OUT, error=error, level="error", message=error)
                except StaleStatus:
                    continue
            handled += 1
    return handled


def sweep(now: datetime | None = None) -> dict[str, int]:
    """One pass of everything above; the worker runs it continuously, a schedule every minute."""
    now = now or timezone.now()
    return {
        "woken": wake_due_steps(now),
        "requeued": requeue_expired_leases(now),
        "redispatched": requeue_lost_dispatches(now),
        "stepsTimedOut": time_out_steps(now),
        "executionsTimedOut": time_out_executions(now),
        "callbacks": queue_due_callbacks(now),
        "slotsHandedOn": start_waiting(now),
        "purged": purge_due(now),
    }
