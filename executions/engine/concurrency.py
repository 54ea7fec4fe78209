"""Concurrency limits: at most `concurrency.limit` executions of a flow are live at once (RUNNING,
WAITING, or PAUSED after they started); what a start beyond that does is the flow's `behavior`.

A slot is taken by the walk that moves an execution from QUEUED to RUNNING, in its transaction,
under the flow row's lock (`FOR NO KEY UPDATE`: starts of the flow can still insert their rows
meanwhile). The end of an execution of a limited flow takes the same lock and hands its slot to
the oldest executions waiting (their start is queued again). Counting under one lock makes a
start and an end serial on PostgreSQL; SQLite serialises every write anyway. A QUEUE start
counts the QUEUED executions created before it as ahead of it: first in, first out.

Only a live execution holds a slot, so a killed worker loses none: its steps are queued again
when their lease lapses and its execution goes on. A handoff lost with a worker (killed between
its commit and the enqueue) is made again by the sweeper (`start_waiting`).

Flows without `concurrency` never get here: callers ask `limit_of` first, which reads nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from executions.engine import dispatch
from executions.engine.compiler import compiled
from executions.engine.events import event_append
from executions.models import Execution, ExecutionStatus, TaskRun, TaskStatus
from flows.definitions import ir
from flows.models import Flow

E = ExecutionStatus
#: What holds a slot. An execution paused before it started holds none (resuming queues it).
LIVE = Q(status__in=(E.RUNNING, E.WAITING)) | Q(status=E.PAUSED, started_at__isnull=False)
#: The sweeper hands a free slot to an execution that waited this long since it was last looked at.
SLOT_GRACE_SECONDS = 5


@dataclass(frozen=True)
class Admission:
    """`start`: take the slot; else wait (QUEUE) or end at once with `status` and `message`."""

    start: bool
    status: str = ""
    message: str = ""


def limit_of(execution: Execution) -> ir.Concurrency | None:
    """The limit of the execution's frozen definition (cached compile, no query); None without one
    or when it does not compile (the walk fails it)."""
    try:
        return compiled(execution.source).concurrency
    except Exception:
        return None


def _lock_flow(flow_id: object) -> None:
    list(Flow.objects.select_for_update(no_key=True).filter(pk=flow_id).values_list("pk", flat=True))


def _of_flow(execution: Execution) -> QuerySet:
    # the namespace lets the (namespace, status, created_at) index find the live ones
    return Execution.objects.filter(namespace_id=execution.namespace_id, flow_id=execution.flow_id)


def running_count(execution: Execution) -> int:
    """How many executions of the execution's flow hold a slot."""
    return _of_flow(execution).filter(LIVE).count()


def _ahead(execution: Execution) -> int:
    older = Q(created_at__lt=execution.created_at) | Q(created_at=execution.created_at, pk__lt=execution.pk)
    return _of_flow(execution).filter(older, status=E.QUEUED).count()


def _waiting(execution: Execution) -> QuerySet:
    return _of_flow(execution).filter(status=E.QUEUED, waiting_for_slot=True).order_by("created_at", "pk")


def _hand_over(execution: Execution, free: int) -> None:
    """Queue the starts of the `free` oldest executions waiting (not `execution`); each decides
    under the lock again, so a duplicate only costs a walk."""
    if free <= 0:
        return
    for execution_id in _waiting(execution).exclude(pk=execution.pk).values_list("pk", flat=True)[:free]:
        dispatch.start_execution(str(execution_id))


def admit(execution: Execution, limit: ir.Concurrency) -> Admission:
    """Whether the QUEUED `execution` (locked by the caller's transaction) may start now.

    Waiting is recorded once (the flag and an event saying why); a start with slots left over
    hands them on, so that ends that came together start as many as they freed.
    """
    if execution.flow_id is None:  # the flow was deleted: nothing left to count against
        return Admission(True)
    _lock_flow(execution.flow_id)
    running = running_count(execution)
    queue = limit.behavior == ir.ConcurrencyBehavior.QUEUE
    if running + (_ahead(execution) if queue else 0) < limit.limit:
        if execution.waiting_for_slot:
            Execution.objects.filter(pk=execution.pk).update(waiting_for_slot=False)
            execution.waiting_for_slot = False
        _hand_over(execution, limit.limit - running - 1)
        if execution.started_at is not None:  # a retry: the steps it queued again wait for this start
            queued = TaskRun.objects.filter(execution_id=execution.pk, status=TaskStatus.QUEUED)
            dispatch.run_task_runs([str(pk) for pk in queued.values_list("pk", flat=True)])
        return Admission(True)
    if queue:
        if not execution.waiting_for_slot:
            now = timezone.now()
            Execution.objects.filter(pk=execution.pk).update(waiting_for_slot=True, updated_at=now)
            execution.waiting_for_slot, execution.updated_at = True, now
            event_append(
                execution_id=execution.pk,
                type="log",
                message=f"Waiting for a concurrency slot: {running} of {limit.limit} running",
                data={"concurrency": {"limit": limit.limit, "running": running, "behavior": str(limit.behavior)}},
            )
        return Admission(False)
    reached = f"the flow's concurrency limit of {limit.limit} is reached ({running} running)"
    if limit.behavior == ir.ConcurrencyBehavior.CANCEL:
        return Admission(False, E.CANCELLED, f"Cancelled: {reached}")
    return Admission(False, E.FAILED, f"Not started: {reached}")


def slot_freed(execution: Execution) -> None:
    """After an end of an execution of a limited flow (in its transaction): start the oldest waiting."""
    limit = limit_of(execution)
    if limit is None or execution.flow_id is None or not execution.is_terminal:
        return
    _lock_flow(execution.flow_id)
    _hand_over(execution, limit.limit - running_count(execution))


def start_waiting(now: datetime) -> int:
    """Sweeper: executions waiting for a slot of a flow that has one free, untouched for
    SLOT_GRACE_SECONDS (the handoff was lost with its worker): queue their starts again."""
    cutoff = now - timedelta(seconds=SLOT_GRACE_SECONDS)
    stale = Execution.objects.filter(status=E.QUEUED, waiting_for_slot=True, updated_at__lt=cutoff)
    started = 0
    for flow_id in stale.order_by().values_list("flow_id", flat=True).distinct()[:200]:
        oldest = _waiting_of(flow_id).first()
        limit = limit_of(oldest) if oldest is not None else None
        if limit is None:
            continue
        free = limit.limit - running_count(oldest)
        if free <= 0:
            continue
        with transaction.atomic():
            due = _waiting(oldest).filter(updated_at__lt=cutoff).select_for_update(skip_locked=True, of=("self",))
            ids = [str(pk) for pk in due.values_list("pk", flat=True)[:free]]
            Execution.objects.filter(pk__in=ids).update(updated_at=now)  # not again before the grace ends
            for execution_id in ids:
                dispatch.start_execution(execution_id)
        started += len(ids)
    return started


def _waiting_of(flow_id: object) -> QuerySet:
    return Execution.objects.filter(flow_id=flow_id, status=E.QUEUED, waiting_for_slot=True).order_by(
        "created_at", "pk"
    )


def slot_wait_text(execution: Execution) -> str:
    """Why a QUEUED execution waits ("" when it does not wait for a slot): for the console."""
    if execution.status != E.QUEUED or not execution.waiting_for_slot:
        return ""
    limit = limit_of(execution)
    if limit is None:
        return "Waiting for a concurrency slot"
    return f"Waiting for a concurrency slot: {running_count(execution)} of {limit.limit} running"
