"""A worker's first walk of a queued execution: read unlocked, written in one checked statement."""

from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.roles import Role
from executions.engine import runner
from executions.models import Execution, ExecutionEvent, ExecutionStatus, TaskRun, TaskStatus
from executions.services import execution_start
from tests.executions.engine.support import names_and_statuses
from tests.factories import AccountFactory, FlowFactory

E, T = ExecutionStatus, TaskStatus

TWO = """
name: two
tasks:
  - {name: a, type: util.echo, properties: {value: 1}}
  - {name: b, type: util.echo, properties: {value: "{{ outputs.a + 1 }}"}}
"""


@pytest.fixture
def queued(settings, transactional_db, namespace) -> Execution:
    settings.MILLRACE_ENGINE_EAGER = False  # the test plays the worker
    actor = AccountFactory(role=Role.ADMIN, default_namespace=namespace)
    return execution_start(actor=actor, flow=FlowFactory(namespace=namespace, source=TWO, created_by=actor))


def test_a_first_start_reads_without_a_lock_and_writes_in_one_statement(queued):
    with CaptureQueriesContext(connection) as captured:
        claimed = runner._advance(str(queued.pk))

    assert claimed is not None and claimed[0].name == "a" and claimed[0].status == T.RUNNING
    # Django logs BEGIN and COMMIT as it manages the transaction; on PostgreSQL the statement
    # goes alone and commits itself (tests/executions/engine/test_writes.py)
    statements = [query["sql"] for query in captured.captured_queries if query["sql"] not in ("BEGIN", "COMMIT")]
    assert not any("FOR UPDATE" in sql for sql in statements[:1]), statements  # the read takes no lock
    assert names_and_statuses(queued) == [("a", T.RUNNING)]
    assert Execution.objects.get(pk=queued.pk).status == E.RUNNING
    if connection.vendor == "postgresql":
        assert len(statements) == 2 and statements[1].startswith("WITH g AS"), statements
    runner._run_chain(claimed)
    assert Execution.objects.get(pk=queued.pk).status == E.SUCCESS


def test_a_cancel_between_the_read_and_the_write_wins(queued, monkeypatch):
    first_start = runner._first_start

    def cancelled_meanwhile(execution: Execution) -> bool:
        guess = first_start(execution)
        Execution.objects.filter(pk=execution.pk).update(status=E.CANCELLED)  # another process
        return guess

    monkeypatch.setattr(runner, "_first_start", cancelled_meanwhile)
    events_before = ExecutionEvent.objects.filter(execution=queued).count()

    assert runner._advance(str(queued.pk)) is None

    assert Execution.objects.get(pk=queued.pk).status == E.CANCELLED
    assert not TaskRun.objects.filter(execution=queued).exists()
    assert ExecutionEvent.objects.filter(execution=queued).count() == events_before


def test_a_second_delivery_of_the_start_message_does_nothing(queued):
    claimed = runner._advance(str(queued.pk))
    assert runner._advance(str(queued.pk)) is None  # RUNNING now: the careful path finds no work
    assert names_and_statuses(queued) == [("a", T.RUNNING)]
    runner._run_chain(claimed)
    assert names_and_statuses(queued) == [("a", T.SUCCESS), ("b", T.SUCCESS)]


def test_an_unknown_execution_is_ignored(transactional_db):
    assert runner._advance("00000000-0000-0000-0000-000000000000") is None


@pytest.fixture
def handed_over(settings, transactional_db, namespace) -> tuple[Execution, dict]:
    """A start whose queue message the test keeps: the execution and the snapshot it carries."""
    settings.MILLRACE_ENGINE_EAGER = False
    actor = AccountFactory(role=Role.ADMIN, default_namespace=namespace)
    flow = FlowFactory(namespace=namespace, source=TWO, created_by=actor)
    with mock.patch("executions.services.dispatch.start_execution") as dispatched:
        execution = execution_start(actor=actor, flow=flow)
    (execution_id, snapshot), _ = dispatched.call_args
    assert execution_id == str(execution.pk) and snapshot is not None
    return execution, snapshot


def test_a_start_hands_its_first_walk_the_execution_so_the_walk_reads_nothing(handed_over):
    execution, snapshot = handed_over
    with CaptureQueriesContext(connection) as captured:
        runner.start_execution(str(execution.pk), snapshot)

    assert Execution.objects.get(pk=execution.pk).status == E.SUCCESS
    assert names_and_statuses(execution) == [("a", T.SUCCESS), ("b", T.SUCCESS)]
    assert TaskRun.objects.get(execution=execution, name="b").outputs == 2
    row_reads = [query["sql"] for query in captured.captured_queries if '"source"' in query["sql"]]
    assert row_reads == []  # only the walk's guarded writes touched the execution


def test_a_snapshot_overtaken_by_a_cancel_starts_nothing(handed_over):
    execution, snapshot = handed_over
    Execution.objects.filter(pk=execution.pk).update(status=E.CANCELLED)  # another process, first

    runner.start_execution(str(execution.pk), snapshot)

    assert Execution.objects.get(pk=execution.pk).status == E.CANCELLED
    assert not TaskRun.objects.filter(execution=execution).exists()
