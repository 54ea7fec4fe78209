"""A worker's first walk of a queued execution: read unlocked, written in one checked statement."""

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
