"""Retention: ended executions past their namespace's retention go with their task runs and
events, in chunks; live ones and audit entries stay; `purge_executions` does it by hand."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import AuditEntry
from executions.engine import retention
from executions.engine.sweeper import sweep
from executions.models import Approval, Execution, ExecutionEvent, ExecutionStatus, TaskRun
from tests.factories import (
    ApprovalFactory,
    AuditEntryFactory,
    ExecutionEventFactory,
    ExecutionFactory,
    FlowFactory,
    NamespaceFactory,
    TaskRunFactory,
)

pytestmark = pytest.mark.django_db
E = ExecutionStatus


def aged(days: float, status: str = E.SUCCESS, *, flow=None, events: int = 2) -> Execution:
    """An execution of `status` created (and, ended, finished) `days` ago, with a task run and events."""
    execution = ExecutionFactory(status=status, **({"flow": flow} if flow else {}))
    run = TaskRunFactory(execution=execution, status="SUCCESS")
    for _ in range(events):
        ExecutionEventFactory(execution=execution, task_run=run)
    when = timezone.now() - timedelta(days=days)
    ended = status in (E.SUCCESS, E.FAILED, E.CANCELLED, E.TIMED_OUT)
    Execution.objects.filter(pk=execution.pk).update(created_at=when, finished_at=when if ended else None)
    return execution


def exists(execution: Execution) -> bool:
    return Execution.objects.filter(pk=execution.pk).exists()


@pytest.fixture(autouse=True)
def fresh_schedule(monkeypatch):
    monkeypatch.setattr(retention._Schedule, "next_at", None)


def test_expired_ended_executions_go_with_their_task_runs_events_and_approvals(settings):
    settings.MILLRACE_RETENTION_DAYS = 30
    old = aged(40)
    ApprovalFactory(task_run__execution=old, execution=old, status=Approval.Status.APPROVED)
    old_failed = aged(31, E.FAILED)
    recent = aged(10)
    old_running = aged(90, E.RUNNING)
    old_waiting = aged(90, E.WAITING)
    old_queued = aged(90, E.QUEUED)
    old_paused = aged(90, E.PAUSED)
    audit = AuditEntryFactory()
    AuditEntry.objects.filter(pk=audit.pk).update(created_at=timezone.now() - timedelta(days=100))

    counts = retention.purge_expired(timezone.now())

    assert (counts.executions, counts.task_runs, counts.events) == (2, 3, 4)
    assert not exists(old) and not exists(old_failed)
    assert all(exists(e) for e in (recent, old_running, old_waiting, old_queued, old_paused))
    assert not TaskRun.objects.filter(execution__in=[old.pk, old_failed.pk]).exists()
    assert not ExecutionEvent.objects.filter(execution_id__in=[old.pk, old_failed.pk]).exists()
    assert not Approval.objects.filter(execution_id=old.pk).exists()
    assert AuditEntry.objects.filter(pk=audit.pk).exists()  # audit entries have their own retention


def test_a_namespace_retention_overrides_the_default_and_zero_keeps_forever(settings):
    settings.MILLRACE_RETENTION_DAYS = 30
    short = FlowFactory(namespace=NamespaceFactory(retention_days=7))
    forever = FlowFactory(namespace=NamespaceFactory(retention_days=0))
    default = FlowFactory()
    short_old, forever_old, default_young = aged(10, flow=short), aged(400, flow=forever), aged(10, flow=default)

    retention.purge_expired(timezone.now())

    assert not exists(short_old)
    assert exists(forever_old) and exists(default_young)


def test_purges_go_in_chunks_and_a_bounded_pass_says_more_remain(settings, monkeypatch):
    settings.MILLRACE_RETENTION_DAYS = 30
    monkeypatch.setattr(retention, "CHUNK", 2)
    flow = FlowFactory()
    olds = [aged(40, flow=flow, events=0) for _ in range(5)]
    chunks = []
    real = retention._delete_chunk
    monkeypatch.setattr(retention, "_delete_chunk", lambda ids: chunks.append(len(ids)) or real(ids))

    first = retention.purge_expired(timezone.now(), max_chunks=2)
    rest = retention.purge_expired(timezone.now(), max_chunks=2)

    assert (first.executions, first.complete) == (4, False)
    assert (rest.executions, rest.complete) == (1, True)
    assert chunks == [2, 2, 1]
    assert not any(exists(e) for e in olds)


def test_the_sweeper_purges_at_most_every_few_minutes(settings):
    settings.MILLRACE_RETENTION_DAYS = 30
    aged(40)
    now = timezone.now()

    assert sweep(now=now)["purged"] == 1
    aged(40)
    assert sweep(now=now + timedelta(seconds=30))["purged"] == 0  # looked a moment ago
    assert sweep(now=now + retention.PURGE_EVERY)["purged"] == 1


def test_audit_entries_past_their_own_retention_go(settings):
    settings.MILLRACE_AUDIT_RETENTION_DAYS = 365
    old, young = AuditEntryFactory(), AuditEntryFactory()
    AuditEntry.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=400))
    AuditEntry.objects.filter(pk=young.pk).update(created_at=timezone.now() - timedelta(days=300))

    retention.purge_expired(timezone.now())

    assert list(AuditEntry.objects.values_list("pk", flat=True)) == [young.pk]


def test_a_child_execution_of_a_purged_step_keeps_living_without_its_link(settings):
    settings.MILLRACE_RETENTION_DAYS = 30
    parent = aged(40)
    child = ExecutionFactory(status=E.RUNNING, parent_task=TaskRun.objects.get(execution=parent))

    retention.purge_expired(timezone.now())

    child.refresh_from_db()
    assert not exists(parent)
    assert child.parent_task_id is None


def run_command(*args: str) -> str:
    out = StringIO()
    call_command("purge_executions", *args, stdout=out)
    return out.getvalue()


def test_the_command_counts_on_a_dry_run_and_deletes_otherwise():
    old, recent = aged(10), aged(3)

    dry = run_command("--older-than", "7d", "--dry-run")
    assert dry.strip() == "Would delete 1 executions, 1 task runs, 2 events."
    assert exists(old)

    done = run_command("--older-than", "7d")
    assert done.strip() == "Deleted 1 executions, 1 task runs, 2 events."
    assert not exists(old) and exists(recent)


def test_the_command_narrows_to_a_namespace_and_statuses():
    kept_ns = FlowFactory()
    chosen = FlowFactory()
    success, failed, elsewhere = aged(10, flow=chosen), aged(10, E.FAILED, flow=chosen), aged(10, flow=kept_ns)
    running = aged(10, E.RUNNING, flow=chosen)

    run_command("--older-than", "1w", "--namespace", chosen.namespace.name, "--status", "success")

    assert not exists(success)
    assert exists(failed) and exists(elsewhere) and exists(running)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--older-than", "7 days"], "--older-than takes a number and a unit"),
        (["--older-than", "7d", "--status", "RUNNING"], "running executions are never purged"),
        (["--older-than", "7d", "--namespace", "nowhere"], "No namespace named 'nowhere'"),
    ],
)
def test_the_command_refuses_bad_arguments(args, message):
    with pytest.raises(CommandError, match=message):
        run_command(*args)
