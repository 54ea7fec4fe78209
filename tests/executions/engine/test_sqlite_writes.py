"""The write queue's flush on SQLite: statements built once per shape, with what the ORM would
have written, the same all-or-nothing checks, and ids read back."""

import uuid

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from executions.engine import events
from executions.engine.events import batched
from executions.engine.transitions import StaleStatus
from executions.engine.writes import deferred_writes
from executions.models import Execution, ExecutionEvent, ExecutionStatus, TaskRun, TaskStatus
from tests.factories import ExecutionFactory, TaskRunFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's flush (PostgreSQL's: test_writes.py)"),
]
E, T = ExecutionStatus, TaskStatus


def run_of(execution: Execution, name: str) -> TaskRun:
    return TaskRunFactory.build(
        id=uuid.uuid4(), execution=execution, step_id=name, name=name, plugin_type="util.echo", sequence=1
    )


def event_of(execution: Execution, n: int) -> ExecutionEvent:
    return ExecutionEvent(execution=execution, type="log", message=f"line {n} é", data={"n": n, "list": [1, None]})


def test_inserts_and_updates_write_what_the_orm_would_and_events_get_their_ids():
    execution = ExecutionFactory(status=E.RUNNING)
    run = run_of(execution, "a")
    fresh = [event_of(execution, n) for n in range(3)]
    finished = timezone.now()
    with transaction.atomic(), batched(), deferred_writes() as writes:
        writes.insert([run])
        writes.update(execution, {"status": E.RUNNING}, {"outputs": {"x": [1, "y"]}, "finished_at": finished})
        events.events_append_many(fresh)
    stored = TaskRun.objects.get(pk=run.pk)
    assert (stored.name, stored.status, stored.execution_id) == ("a", run.status, execution.pk)
    assert stored.created_at is not None and not run._state.adding
    execution.refresh_from_db()
    assert execution.outputs == {"x": [1, "y"]} and execution.finished_at == finished
    assert all(event.id for event in fresh)
    stored_events = ExecutionEvent.objects.filter(pk__in=[event.id for event in fresh]).order_by("id")
    assert [(e.message, e.data) for e in stored_events] == [
        (f"line {n} é", {"n": n, "list": [1, None]}) for n in range(3)
    ]


def test_a_failed_guard_writes_nothing():
    execution = ExecutionFactory(status=E.RUNNING)
    seen = Execution.objects.get(pk=execution.pk)
    Execution.objects.filter(pk=execution.pk).update(status=E.CANCELLED)  # moved meanwhile
    run = run_of(seen, "a")
    with (
        pytest.raises(StaleStatus, match="changed"),
        transaction.atomic(),
        batched(),
        deferred_writes(guard=seen) as writes,
    ):
        writes.insert([run])
    assert not TaskRun.objects.filter(pk=run.pk).exists()


def test_an_update_whose_condition_no_longer_holds_raises_and_a_none_condition_is_is_null():
    execution = ExecutionFactory(status=E.RUNNING, finished_at=None)
    with (
        pytest.raises(StaleStatus, match="no longer"),
        transaction.atomic(),
        batched(),
        deferred_writes() as writes,
    ):
        writes.update(execution, {"status": E.PAUSED}, {"status": E.FAILED})
    with transaction.atomic(), batched(), deferred_writes() as writes:
        writes.update(execution, {"status": E.RUNNING, "finished_at": None}, {"error": "set where it was NULL"})
    execution.refresh_from_db()
    assert execution.status == E.RUNNING and execution.error == "set where it was NULL"


def test_more_rows_than_one_statement_takes_go_in_batches_with_every_id_read_back():
    execution = ExecutionFactory(status=E.RUNNING)
    many = [event_of(execution, n) for n in range(1500)]  # 7 columns each: past SQLite's 999 parameters
    with CaptureQueriesContext(connection) as queries, transaction.atomic(), batched(), deferred_writes():
        events.events_append_many(many)
    inserts = [q["sql"] for q in queries if q["sql"].startswith("INSERT")]
    assert len(inserts) > 1
    assert len({event.id for event in many}) == 1500
    assert ExecutionEvent.objects.filter(execution=execution, type="log").count() == 1500
    assert ExecutionEvent.objects.get(pk=many[-1].id).message == "line 1499 é"
