"""Retention: ended executions, with their task runs, events (their logs) and approvals, are
deleted once older than their namespace's retention; audit entries have their own.

Deletes go 500 executions at a time, each chunk in its own short transaction, so no lock is
held for long and running executions never wait on a purge: only ended executions are chosen
(QUEUED, RUNNING, WAITING and PAUSED ones are never purged), and a chunk's statements touch
only their rows. Candidates are read through the `(namespace, status, created_at)` index; an
execution counts as old when it was created and finished before the cutoff.

The stored files of purged executions (`<namespace>/executions/<id>/...`) go once their chunk
has committed (or the transaction enclosing the purge): one listing of the namespace's
execution files per chunk, then only the executions that have any are deleted, so a bucket is
not asked once per execution.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet

from accounts.models import AuditEntry, Namespace
from core import storage
from core.filerefs import EXECUTIONS, execution_prefix
from executions.models import (
    TERMINAL_EXECUTION_STATUSES,
    Approval,
    CallbackDelivery,
    Execution,
    ExecutionEvent,
    TaskRun,
)

logger = logging.getLogger("millrace.engine")
CHUNK = 500
#: Chunks one sweeper pass deletes at most; the next pass goes on where it stopped.
PASS_CHUNKS = 20
#: How often a process's sweeper looks for expired executions when the last pass finished them.
PURGE_EVERY = timedelta(minutes=5)


@dataclass
class PurgeCounts:
    """What a purge deleted (or, dry, would delete)."""

    executions: int = 0
    task_runs: int = 0
    events: int = 0
    chunks: int = field(default=0, compare=False)
    complete: bool = field(default=True, compare=False)

    def add(self, other: PurgeCounts) -> None:
        self.executions += other.executions
        self.task_runs += other.task_runs
        self.events += other.events
        self.chunks += other.chunks

    def as_dict(self) -> dict[str, int]:
        return {"executions": self.executions, "taskRuns": self.task_runs, "events": self.events}


def expired_executions(
    *, cutoff: datetime, namespace: Namespace | None = None, statuses: tuple[str, ...] | None = None
) -> QuerySet[Execution]:
    """Ended executions created and finished before `cutoff` (of one namespace, of some statuses)."""
    ended = [s for s in (statuses or TERMINAL_EXECUTION_STATUSES) if s in TERMINAL_EXECUTION_STATUSES]
    candidates = Execution.objects.filter(status__in=ended, created_at__lt=cutoff).filter(
        Q(finished_at__lt=cutoff) | Q(finished_at__isnull=True)
    )
    if namespace is not None:
        candidates = candidates.filter(namespace=namespace)
    return candidates


def _delete_chunk(ids: list) -> PurgeCounts:
    """Delete these executions and what hangs off them, in one short transaction.

    Children first, each one statement by key, so Django's collector finds nothing left to
    fetch; a child execution of a purged step (still kept) only loses its link.
    """
    with transaction.atomic():
        # re-checked under the transaction: a retry may have queued one again since it was read
        rows = list(
            Execution.objects.filter(pk__in=ids, status__in=TERMINAL_EXECUTION_STATUSES).values_list(
                "pk", "namespace__name"
            )
        )
        if not rows:
            return PurgeCounts()
        ids = [pk for pk, _ in rows]
        Execution.objects.filter(parent_task__execution_id__in=ids).exclude(pk__in=ids).update(parent_task=None)
        events = ExecutionEvent.objects.filter(execution_id__in=ids)._raw_delete(ExecutionEvent.objects.db)
        Approval.objects.filter(execution_id__in=ids)._raw_delete(Approval.objects.db)
        CallbackDelivery.objects.filter(execution_id__in=ids)._raw_delete(CallbackDelivery.objects.db)
        runs = TaskRun.objects.filter(execution_id__in=ids)._raw_delete(TaskRun.objects.db)
        executions, _ = Execution.objects.filter(pk__in=ids).delete()
        # now, or when an enclosing transaction commits; a storage failure is logged, the purge stands
        transaction.on_commit(lambda: _delete_files(rows), robust=True)
    return PurgeCounts(executions=executions, task_runs=runs, events=events)


def _delete_files(rows: list[tuple[object, str]]) -> None:
    """The stored files of purged executions (pk, namespace name), one listing per namespace."""
    by_namespace: dict[str, set[str]] = {}
    for pk, name in rows:
        by_namespace.setdefault(name, set()).add(str(pk))
    for name, ids in by_namespace.items():
        having = {entry.name for entry in storage.listing(f"{name}/{EXECUTIONS}") if entry.is_dir}
        for execution_id in sorted(having & ids):
            storage.delete_prefix(execution_prefix(name, execution_id))


def purge_executions(
    *,
    cutoff: datetime,
    namespace: Namespace | None = None,
    statuses: tuple[str, ...] | None = None,
    dry_run: bool = False,
    max_chunks: int | None = None,
) -> PurgeCounts:
    """Delete ended executions older than `cutoff`, `CHUNK` at a time; counts only when `dry_run`.

    With `max_chunks`, stops after that many chunks (`complete` is then False if more remain).
    """
    candidates = expired_executions(cutoff=cutoff, namespace=namespace, statuses=statuses)
    if dry_run:
        return PurgeCounts(
            executions=candidates.count(),
            task_runs=TaskRun.objects.filter(execution__in=candidates).count(),
            events=ExecutionEvent.objects.filter(execution__in=candidates).count(),
        )
    counts = PurgeCounts()
    while True:
        if max_chunks is not None and counts.chunks >= max_chunks:
            counts.complete = not candidates.exists()
            return counts
        ids = list(candidates.order_by().values_list("pk", flat=True)[:CHUNK])
        if not ids:
            return counts
        counts.add(_delete_chunk(ids))
        counts.chunks += 1


def purge_audit(*, cutoff: datetime, max_chunks: int | None = None) -> int:
    """Delete audit entries older than `cutoff`, `CHUNK` at a time; how many went."""
    deleted, chunks = 0, 0
    while max_chunks is None or chunks < max_chunks:
        ids = list(AuditEntry.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:CHUNK])
        if not ids:
            break
        deleted += AuditEntry.objects.filter(pk__in=ids)._raw_delete(AuditEntry.objects.db)
        chunks += 1
    return deleted


def retention_cutoff(days: int | None, now: datetime) -> datetime | None:
    """The cutoff for `days` (None: `MILLRACE_RETENTION_DAYS`); None when kept forever (0)."""
    days = settings.MILLRACE_RETENTION_DAYS if days is None else days
    return now - timedelta(days=days) if days and days > 0 else None


def purge_expired(now: datetime, *, max_chunks: int = PASS_CHUNKS) -> PurgeCounts:
    """One pass of retention over every namespace and the audit log, bounded by `max_chunks`."""
    counts = PurgeCounts()
    for namespace in Namespace.objects.only("pk", "retention_days"):
        cutoff = retention_cutoff(namespace.retention_days, now)
        if cutoff is None:
            continue
        if counts.chunks >= max_chunks:
            counts.complete = False
            break
        done = purge_executions(cutoff=cutoff, namespace=namespace, max_chunks=max_chunks - counts.chunks)
        counts.add(done)
        counts.complete = counts.complete and done.complete
    audit_days = settings.MILLRACE_AUDIT_RETENTION_DAYS
    if audit_days and audit_days > 0:
        purge_audit(cutoff=now - timedelta(days=audit_days), max_chunks=max_chunks)
    if counts.executions:
        logger.info("Retention purged %d executions (%d task runs, %d events)", *counts.as_dict().values())
    return counts


class _Schedule:
    """When this process's sweeper next looks for expired executions (a pass that stopped at
    its bound looks again on the next sweep)."""

    next_at: datetime | None = None


def purge_due(now: datetime) -> int:
    """The sweeper's retention step: a bounded pass at most every `PURGE_EVERY`; executions purged."""
    if _Schedule.next_at is not None and now < _Schedule.next_at:
        return 0
    counts = purge_expired(now)
    _Schedule.next_at = now if not counts.complete else now + PURGE_EVERY
    return counts.executions
