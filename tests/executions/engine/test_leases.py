"""Leases of running steps: renewed while a plugin runs, re-queued by the sweeper when they lapse."""

import threading
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from django.db import OperationalError, transaction
from django.utils import timezone

from connectors import registry
from connectors.registry import Plugin, PluginContext, Result
from executions.engine import leases
from executions.engine.sweeper import sweep
from executions.engine.transitions import task_runs_create, transition
from executions.models import Execution, ExecutionEvent, ExecutionStatus, TaskRun, TaskStatus
from executions.services import execution_create
from tests.executions.engine.support import TWO_STEPS, later, names_and_statuses, run_named, status_events
from tests.factories import FlowFactory

pytestmark = pytest.mark.usefixtures("eager")
E, T = ExecutionStatus, TaskStatus


@pytest.fixture
def leased_run(namespace, runner_account):
    """An execution whose first step a worker claimed, as that worker leaves it when it dies."""

    def make(lease_until) -> TaskRun:
        flow = FlowFactory(namespace=namespace, source=TWO_STEPS, created_by=runner_account)
        execution = execution_create(flow=flow, created_by=runner_account)  # nothing dispatched
        run = TaskRun(
            id=uuid4(),
            execution=execution,
            step_id="first",
            name="first",
            plugin_type="util.echo",
            sequence=1,
            status=T.RUNNING,
            attempt=1,
            lease_owner="dead-host:4242",
            lease_until=lease_until,
        )
        with transaction.atomic():
            transition(execution, E.RUNNING)
            task_runs_create([run])
        return run

    return make


def test_an_expired_lease_is_requeued_and_the_execution_finishes(leased_run):
    run = leased_run(timezone.now() - timedelta(seconds=5))
    assert sweep(now=timezone.now())["requeued"] == 1
    [warning] = ExecutionEvent.objects.filter(task_run=run, level="warn")
    assert "lease expired" in warning.message
    assert warning.data["status"] == T.QUEUED and warning.data["previous"] == T.RUNNING
    assert warning.data["attempt"] == 1 and warning.data["worker"] == "dead-host:4242"  # the lost attempt is kept

    run.refresh_from_db()
    execution = Execution.objects.get(pk=run.execution_id)
    assert execution.status == E.SUCCESS, execution.error
    assert (run.status, run.attempt, run.outputs) == (T.SUCCESS, 2, "one")  # each delivery is an attempt
    assert (run.lease_owner, run.lease_until) == ("", None)
    assert [event.data["status"] for event in status_events(run)] == [T.RUNNING, T.QUEUED, T.RUNNING, T.SUCCESS]
    assert names_and_statuses(execution) == [("first", T.SUCCESS), ("second", T.SUCCESS)]
    assert run_named(execution, "second").outputs == "one-two"
    assert sweep(now=later(600))["requeued"] == 0


def test_a_live_lease_is_left_alone(leased_run):
    until = timezone.now() + timedelta(seconds=30)
    run = leased_run(until)
    assert sweep(now=timezone.now())["requeued"] == 0
    run.refresh_from_db()
    assert (run.status, run.lease_owner, run.lease_until, run.attempt) == (T.RUNNING, "dead-host:4242", until, 1)
    assert not ExecutionEvent.objects.filter(task_run=run, level="warn").exists()
    assert sweep(now=until + timedelta(seconds=1))["requeued"] == 1  # once it lapses, it is re-queued


def test_renew_extends_the_leases_this_process_holds(leased_run, settings):
    settings.MILLRACE_LEASE_SECONDS = 60
    soon = timezone.now() + timedelta(seconds=2)
    held, other = leased_run(soon), leased_run(soon)
    ended = leased_run(soon)
    TaskRun.objects.filter(pk=ended.pk).update(status=T.SUCCESS)
    leases.hold(held.pk)
    leases.hold(ended.pk)
    try:
        before = timezone.now()
        assert leases.renew() == 1  # `ended` is no longer RUNNING
        held.refresh_from_db()
        assert held.lease_until >= before + timedelta(seconds=60)
        other.refresh_from_db()
        assert other.lease_until == soon  # not held here
    finally:
        leases.release(held.pk)
        leases.release(ended.pk)
    assert leases.renew() == 0


def test_a_running_plugin_holds_its_lease(run_flow, monkeypatch):
    renewed: list[int] = []

    class Renewing(Plugin):
        id = "test.renewing"
        name = category = "test"

        def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
            renewed.append(leases.renew())
            return Result.success("ok")

    monkeypatch.setitem(registry._REGISTRY, Renewing.id, Renewing)
    execution = run_flow("name: renewing\ntasks:\n  - name: work\n    type: test.renewing\n")
    assert execution.status == E.SUCCESS, execution.error
    assert renewed == [1]
    assert leases.renew() == 0  # released when the step ended


def test_a_worker_whose_lease_lapsed_cannot_record_over_the_newer_attempt(leased_run):
    """The late worker still holds its old copy (RUNNING, attempt 1); the row moved on to attempt 2."""
    from executions.engine.runner import _record
    from executions.engine.transitions import StaleStatus
    from flows.definitions import compile_definition
    from vault.masking import Masker

    late = leased_run(timezone.now() - timedelta(seconds=5))
    TaskRun.objects.filter(pk=late.pk).update(lease_owner="live-host:1", attempt=2)  # re-claimed elsewhere
    step = compile_definition(TWO_STEPS).step("first")
    with pytest.raises(StaleStatus), transaction.atomic():
        _record(late, step, Result.success("late result"), {}, Masker([]), None)
    late.refresh_from_db()
    assert (late.status, late.attempt, late.outputs) == (T.RUNNING, 2, None)


def test_the_lease_keeper_goes_on_when_closing_its_connection_fails(monkeypatch, settings):
    settings.MILLRACE_LEASE_SECONDS = 1.5  # a renewal every 0.5 s
    renewals = []
    stop = threading.Event()

    def renew() -> int:
        renewals.append(1)
        if len(renewals) >= 2:
            stop.set()
        return 0

    def broken() -> None:
        raise OperationalError("the database went away")

    monkeypatch.setattr(leases, "renew", renew)
    monkeypatch.setattr(leases, "close_old_connections", broken)
    keeper = threading.Thread(target=leases._keep, args=(stop,))
    keeper.start()
    keeper.join(10)
    assert not keeper.is_alive() and len(renewals) == 2  # renewed again after the first failure
