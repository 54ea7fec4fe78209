"""The engine's deferred writes: one statement per chained step on PostgreSQL, the same
all-or-nothing checks as immediate writes everywhere."""

import contextlib
import uuid
from unittest import mock

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from psycopg.pq import TransactionStatus

from accounts.models import AuditEntry
from accounts.roles import Role
from executions.engine import events
from executions.engine import writes as writes_module
from executions.engine.events import batched, group_name
from executions.engine.transitions import StaleStatus, task_runs_create, transition
from executions.engine.writes import deferred_writes
from executions.models import Execution, ExecutionEvent, ExecutionStatus, TaskRun, TaskStatus
from executions.services import execution_start
from tests.executions.engine.support import names_and_statuses, status_events
from tests.factories import AccountFactory, ExecutionFactory, FlowFactory, TaskRunFactory

E, T = ExecutionStatus, TaskStatus

THREE = """
name: three
tasks:
  - {name: a, type: util.echo, properties: {value: 1}}
  - {name: b, type: util.echo, properties: {value: "{{ outputs.a + 1 }}"}}
  - {name: c, type: util.echo, properties: {value: "{{ outputs.b + 1 }}"}}
"""


def new_run(execution: Execution, name: str, status: str = T.RUNNING, sequence: int = 1) -> TaskRun:
    return TaskRunFactory.build(
        id=uuid.uuid4(),
        execution=execution,
        step_id=name,
        name=name,
        plugin_type="util.echo",
        sequence=sequence,
        status=status,
    )


def writes_of(queries: list[dict]) -> list[str]:
    return [q["sql"] for q in queries if (q["sql"] or "").split(None, 1)[:1] in (["WITH"], ["INSERT"], ["UPDATE"])]


@pytest.mark.usefixtures("eager")
def test_a_flow_runs_to_the_same_result_with_deferred_writes(run_flow):
    with CaptureQueriesContext(connection) as captured:
        execution = run_flow(THREE)
    assert execution.status == E.SUCCESS, execution.error
    assert names_and_statuses(execution) == [("a", T.SUCCESS), ("b", T.SUCCESS), ("c", T.SUCCESS)]
    assert TaskRun.objects.get(execution=execution, name="c").outputs == 3
    assert [e.data["status"] for e in status_events(execution)] == [E.QUEUED, E.RUNNING, E.SUCCESS]
    engine_writes = [sql for sql in writes_of(captured.captured_queries) if "executions_taskrun" in sql]
    if connection.vendor == "postgresql":
        # the start, then each of the three steps: one statement each
        assert len(engine_writes) == 4, engine_writes
        assert all(sql.startswith("WITH") for sql in engine_writes)
    else:
        assert not any(sql.startswith("WITH") for sql in engine_writes)
        assert len(engine_writes) > 4


@pytest.mark.usefixtures("eager")
def test_a_steps_statement_is_prepared_once_the_connection_has_run_it_a_few_times(run_flow):
    steps = "".join(f"  - {{name: s{n}, type: util.echo, properties: {{value: {n}}}}}\n" for n in range(12))
    execution = run_flow(f"name: twelve\ntasks:\n{steps}")
    assert execution.status == E.SUCCESS, execution.error
    if connection.vendor == "postgresql":  # parsed and planned once, not per step
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements")
            prepared = [row[0] for row in cursor.fetchall()]
        assert any(statement.startswith("WITH g AS (SELECT 1 FROM") for statement in prepared), prepared


def test_a_start_writes_the_execution_its_event_and_its_audit_entry_in_one_statement(
    transactional_db, namespace, monkeypatch
):
    account = AccountFactory(role=Role.EXECUTOR, default_namespace=namespace)
    flow = FlowFactory(namespace=namespace, source=THREE, created_by=account)
    flushes = []
    flush = writes_module._flush_postgresql
    monkeypatch.setattr(
        writes_module, "_flush_postgresql", lambda w, alone: flushes.append(alone) or flush(w, alone=alone)
    )
    with CaptureQueriesContext(connection) as captured:
        execution = execution_start(actor=account, flow=flow)
    writes = [sql for sql in writes_of(captured.captured_queries) if "django_q" not in sql]  # not the queue's
    assert AuditEntry.objects.filter(action="execution.start", resource_id=str(execution.pk)).count() == 1
    assert ExecutionEvent.objects.filter(execution=execution).count() == 1
    if connection.vendor == "postgresql":
        assert len(writes) == 1 and "accounts_auditentry" in writes[0], writes
        assert flushes == [True]  # sent alone, as its own transaction: no BEGIN and COMMIT round trips
    else:
        assert len(writes) == 3, writes


def test_a_stale_write_rolls_back_everything_queued_with_it(transactional_db):
    execution = ExecutionFactory(status=E.RUNNING)
    run = new_run(execution, "a")
    TaskRun.objects.bulk_create([run])
    TaskRun.objects.filter(pk=run.pk).update(status=T.CANCELLED)  # someone else moved it
    before = ExecutionEvent.objects.count()

    with pytest.raises(StaleStatus), transaction.atomic(), batched(), deferred_writes():
        task_runs_create([new_run(execution, "b", sequence=2)])
        transition(run, T.SUCCESS, message="done")

    assert list(TaskRun.objects.filter(execution=execution).values_list("name", "status")) == [("a", T.CANCELLED)]
    assert ExecutionEvent.objects.count() == before


def test_the_execution_guard_refuses_an_execution_that_moved(transactional_db):
    execution = ExecutionFactory(status=E.RUNNING)
    Execution.objects.filter(pk=execution.pk).update(status=E.PAUSED)

    with pytest.raises(StaleStatus), transaction.atomic(), batched(), deferred_writes(guard=execution):
        task_runs_create([new_run(execution, "a")])

    assert not TaskRun.objects.filter(execution=execution).exists()


def test_a_whole_transaction_block_sends_its_statement_as_its_own_transaction(transactional_db):
    execution = ExecutionFactory(status=E.RUNNING)
    run = new_run(execution, "a")
    with transaction.atomic():
        with batched(), deferred_writes(guard=execution, whole_transaction=True):
            task_runs_create([run])
            transition(execution, E.SUCCESS, message="finished")
        postgresql = connection.vendor == "postgresql"
        committed = postgresql and connection.connection.info.transaction_status == TransactionStatus.IDLE

    assert TaskRun.objects.filter(pk=run.pk, status=T.RUNNING).exists()
    assert Execution.objects.get(pk=execution.pk).status == E.SUCCESS
    assert [e.data["status"] for e in status_events(execution)][-1] == E.SUCCESS
    assert committed is postgresql  # on PostgreSQL committed already: no COMMIT left to send


def test_a_whole_transaction_statement_with_a_failed_check_writes_nothing(transactional_db):
    execution = ExecutionFactory(status=E.RUNNING)
    first, second = new_run(execution, "a"), new_run(execution, "b", sequence=2)
    TaskRun.objects.bulk_create([first, second])
    TaskRun.objects.filter(pk=second.pk).update(status=T.CANCELLED)  # someone else moved it
    before = ExecutionEvent.objects.count()

    whole = deferred_writes(guard=execution, whole_transaction=True)
    with pytest.raises(StaleStatus), transaction.atomic(), batched(), whole:
        transition(first, T.SUCCESS, message="done")  # its update succeeds, then the next one fails
        transition(second, T.SUCCESS, message="done")
        task_runs_create([new_run(execution, "c", sequence=3)])

    assert dict(TaskRun.objects.filter(execution=execution).values_list("name", "status")) == {
        "a": T.RUNNING,
        "b": T.CANCELLED,
    }
    assert ExecutionEvent.objects.count() == before


@pytest.mark.parametrize("holds", [True, False])
@pytest.mark.parametrize("alone", [True, False], ids=["alone", "after-a-read"])
def test_a_required_condition_decides_whether_anything_is_written(transactional_db, holds, alone):
    execution = ExecutionFactory(status=E.RUNNING)
    run = new_run(execution, "a")
    whole = deferred_writes(guard=execution, whole_transaction=True)
    outcome = contextlib.nullcontext() if holds or connection.vendor != "postgresql" else pytest.raises(StaleStatus)
    with outcome, transaction.atomic(), batched(), whole as writes:
        if not alone:
            Execution.objects.filter(pk=execution.pk).exists()  # a statement before the writes
        task_runs_create([run])
        taken = writes.require("%s = 1", [1 if holds else 0])

    assert taken is (connection.vendor == "postgresql")  # elsewhere the caller checks it itself
    assert TaskRun.objects.filter(pk=run.pk).exists() is (holds or not taken)


def test_a_read_inside_the_block_sees_the_queued_writes(transactional_db):
    execution = ExecutionFactory(status=E.RUNNING)
    run = new_run(execution, "a")
    with transaction.atomic(), batched(), deferred_writes() as writes:
        task_runs_create([run])
        assert writes.inserts
        assert TaskRun.objects.filter(pk=run.pk, status=T.RUNNING).exists()
        assert not writes.inserts  # the read flushed them first


def test_two_moves_of_one_row_write_once_from_the_first_status(transactional_db):
    execution = ExecutionFactory(status=E.QUEUED)
    run = new_run(execution, "a", status=T.RUNNING)
    with CaptureQueriesContext(connection) as captured, transaction.atomic(), batched(), deferred_writes():
        transition(execution, E.RUNNING, message="started")
        task_runs_create([run])
        transition(run, T.SUCCESS, outputs={"x": 1}, message="done")  # inserted with its final values
        transition(execution, E.SUCCESS, outputs={"x": 1}, message="finished")

    execution.refresh_from_db()
    assert (execution.status, execution.outputs) == (E.SUCCESS, {"x": 1})
    assert execution.started_at is not None and execution.finished_at is not None
    stored = TaskRun.objects.get(pk=run.pk)
    assert (stored.status, stored.outputs) == (T.SUCCESS, {"x": 1})
    assert [e.data["status"] for e in status_events(execution)] == [E.RUNNING, E.SUCCESS]
    assert [e.data["status"] for e in status_events(stored)] == [T.RUNNING, T.SUCCESS]
    execution_updates = [sql for sql in writes_of(captured.captured_queries) if '"executions_execution"' in sql]
    assert len(execution_updates) == 1


def test_the_last_event_of_the_flush_is_announced(transactional_db):
    execution = ExecutionFactory(status=E.QUEUED)

    with mock.patch.object(events._doorbell, "ring") as ring, transaction.atomic():
        with batched(), deferred_writes():
            transition(execution, E.RUNNING, message="started")
            task_runs_create([new_run(execution, "a")])
        assert ring.call_count == 0  # rung once it commits

    last = ExecutionEvent.objects.filter(execution=execution).order_by("-id").first()
    assert ring.call_args_list == [mock.call(group_name(execution.pk), last.id, ended=False)]


def test_blocks_do_not_nest(transactional_db):
    with pytest.raises(RuntimeError), transaction.atomic(), deferred_writes(), deferred_writes():
        pass


def test_a_start_writes_the_execution_and_its_event_together(settings, transactional_db, namespace):
    from accounts.roles import Role
    from executions.services import execution_start
    from tests.factories import AccountFactory, FlowFactory

    settings.MILLRACE_ENGINE_EAGER = False
    actor = AccountFactory(role=Role.ADMIN, default_namespace=namespace)
    flow = FlowFactory(namespace=namespace, source=THREE, created_by=actor)
    with CaptureQueriesContext(connection) as captured:
        execution = execution_start(actor=actor, flow=flow)

    stored = Execution.objects.get(pk=execution.pk)
    assert (stored.status, stored.flow_id, stored.tasks_total) == (E.QUEUED, flow.pk, 3)
    assert [e.data["status"] for e in status_events(stored)] == [E.QUEUED]
    inserts = [sql for sql in writes_of(captured.captured_queries) if '"executions_execution' in sql]
    if connection.vendor == "postgresql":
        assert len(inserts) == 1 and inserts[0].startswith("WITH")
    else:
        assert len(inserts) == 2  # the execution, then its event


def stored(run: TaskRun) -> tuple:
    row = TaskRun.objects.get(pk=run.pk)
    return row.loop_index, row.outputs, row.wake_at, row.error, row.status


def test_rows_with_and_without_nulls_are_written_as_given_in_any_order(transactional_db):
    """On PostgreSQL a NULL is written into the statement, so statements of one shape differ
    by where their NULLs are: each must write its own rows' values."""
    execution = ExecutionFactory(status=E.RUNNING)
    when = timezone.now().replace(microsecond=123456)
    for first_has_values in (False, True):
        plain, full = new_run(execution, "plain"), new_run(execution, "full", sequence=2)
        plain.step_id, full.step_id = f"plain-{first_has_values}", f"full-{first_has_values}"
        full.loop_index, full.outputs, full.wake_at, full.error = 3, {"v": [1, None]}, when, "x"
        with transaction.atomic(), batched(), deferred_writes():
            task_runs_create([full, plain] if first_has_values else [plain, full])

        assert stored(plain) == (None, None, None, "", T.RUNNING)
        assert stored(full) == (3, {"v": [1, None]}, when, "x", T.RUNNING)

        with transaction.atomic(), batched(), deferred_writes():
            transition(plain, T.SUCCESS, outputs={"done": True}, message="done")
            transition(full, T.SUCCESS, outputs=None, wake_at=None, message="done")

        assert stored(plain) == (None, {"done": True}, None, "", T.SUCCESS)
        assert stored(full) == (3, None, None, "x", T.SUCCESS)
