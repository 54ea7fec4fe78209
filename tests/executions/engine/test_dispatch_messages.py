"""Start messages: the snapshot travels only when it can; the id always does; logs never carry inputs."""

import logging
from unittest import mock

import pytest
from django.db import OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils.module_loading import import_string
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from accounts.roles import Role
from core.broker import BellORM
from executions.engine import dispatch
from executions.models import Execution, ExecutionStatus
from executions.services import execution_start
from tests.factories import AccountFactory, FlowFactory

SOURCE = """
name: echo
tasks:
  - {name: a, type: util.echo, properties: {value: "{{ inputs.text | length }}"}}
"""
MARKER = "INPUT-MARKER-"
WRITES = ("INSERT", "UPDATE", "DELETE", "WITH")


class Broker:
    """Stands in for django-q's `async_task`: records messages, refusing those `refuse` says."""

    def __init__(self, refuse=lambda args: False) -> None:
        self.refuse = refuse
        self.messages: list[tuple[str, tuple]] = []

    def __call__(self, func, *args, **kwargs) -> None:
        if self.refuse(args):
            raise RuntimeError(f"refused {args!r}")  # a broker error may quote the message
        self.messages.append((func, args))

    def deliver(self) -> None:
        """Play the worker: run every recorded message."""
        for func, args in self.messages:
            import_string(func)(*args)


@pytest.fixture
def start(settings, transactional_db, namespace, monkeypatch):
    settings.MILLRACE_ENGINE_EAGER = False
    account = AccountFactory(role=Role.ADMIN, default_namespace=namespace)
    flow = FlowFactory(namespace=namespace, source=SOURCE, created_by=account)

    def run(text: str, broker: Broker) -> Execution:
        monkeypatch.setattr("django_q.tasks.async_task", broker)
        return execution_start(actor=account, flow=flow, inputs={"text": text})

    return run


def test_a_small_start_carries_its_snapshot(start):
    broker = Broker()
    execution = start("short", broker)
    [(func, args)] = broker.messages
    assert func == "executions.engine.runner.start_execution" and args[0] == str(execution.pk) and len(args) == 2


def test_a_snapshot_carries_the_timestamps_the_row_was_written_with(start):
    broker = Broker()
    execution = start("short", broker)
    [(_, (_, snapshot))] = broker.messages
    row = Execution.objects.get(pk=execution.pk)
    assert row.created_at is not None
    assert snapshot["execution"]["created_at"] == row.created_at
    assert snapshot["execution"]["updated_at"] == row.updated_at


def test_an_oversize_snapshot_goes_as_the_id_and_the_execution_starts_at_once(start):
    broker = Broker()
    text = MARKER * (dispatch.SNAPSHOT_MAX_BYTES // len(MARKER) + 1)
    execution = start(text, broker)

    assert broker.messages == [("executions.engine.runner.start_execution", (str(execution.pk),))]
    broker.deliver()  # the worker reads the row itself; no sweeper involved
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCESS, execution.error
    assert execution.outputs == {"a": len(text)}


def test_a_snapshot_that_does_not_pickle_goes_as_the_id(start, monkeypatch):
    real = dispatch.start_execution

    def unpicklable(execution_id, snapshot=None):
        real(execution_id, {**snapshot, "extra": lambda: None})

    monkeypatch.setattr("executions.services.dispatch.start_execution", unpicklable)
    broker = Broker()
    execution = start("short", broker)

    assert broker.messages == [("executions.engine.runner.start_execution", (str(execution.pk),))]
    broker.deliver()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCESS, execution.error


def test_a_refused_snapshot_message_is_sent_again_as_the_id_and_logs_no_inputs(start, caplog):
    broker = Broker(refuse=lambda args: len(args) > 1)
    with caplog.at_level(logging.DEBUG):
        execution = start(MARKER + "secret-ish", broker)

    assert broker.messages == [("executions.engine.runner.start_execution", (str(execution.pk),))]
    assert MARKER not in caplog.text and str(execution.pk) in caplog.text
    broker.deliver()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCESS, execution.error


def test_a_broker_that_refuses_everything_logs_the_id_only(start, caplog):
    broker = Broker(refuse=lambda args: True)
    with caplog.at_level(logging.DEBUG):
        execution = start(MARKER * 1000, broker)

    assert broker.messages == []
    assert execution.status == ExecutionStatus.QUEUED  # the sweeper queues it again
    assert MARKER not in caplog.text and "snapshot" not in caplog.text.replace("with its snapshot", "")
    assert str(execution.pk) in caplog.text and len(caplog.text) < 2000


def test_a_failing_eager_task_logs_its_id_not_its_arguments(settings, caplog):
    settings.MILLRACE_ENGINE_EAGER = True
    with caplog.at_level(logging.ERROR):
        dispatch._enqueue("builtins.len", "not-a-real-id", {"inputs": MARKER})  # len() takes one argument
    assert "builtins.len(not-a-real-id)" in caplog.text and MARKER not in caplog.text


LOCKED_CALLS: list[str] = []


def locked_twice(execution_id: str) -> None:
    """An engine task whose first two writes meet another thread's read of an in-memory SQLite."""
    LOCKED_CALLS.append(execution_id)
    if len(LOCKED_CALLS) <= 2:
        raise OperationalError("database table is locked: executions_execution")


def test_an_eager_task_refused_as_locked_runs_again(settings, caplog):
    settings.MILLRACE_ENGINE_EAGER = True
    LOCKED_CALLS.clear()
    with caplog.at_level(logging.ERROR):
        dispatch._enqueue(f"{__name__}.locked_twice", "an-id")
    assert LOCKED_CALLS == ["an-id"] * 3 and "failed" not in caplog.text


def test_other_eager_failures_are_not_run_again(settings, caplog):
    settings.MILLRACE_ENGINE_EAGER = True
    LOCKED_CALLS.clear()
    with caplog.at_level(logging.ERROR):
        dispatch._enqueue("builtins.len", "an-id", "a second argument len() refuses")
    assert caplog.text.count("Eager engine task builtins.len(an-id") == 1


@pytest.fixture
def queue_in_database(settings, monkeypatch):
    """The embedded default's queue (rows of this database), whatever the suite runs on."""
    settings.MILLRACE_ENGINE_EAGER = False
    monkeypatch.setattr(dispatch, "_broker", lambda: BellORM(list_key="dispatch-test"))
    yield OrmQ.objects.filter(key="dispatch-test")


@pytest.mark.django_db(transaction=True)
def test_a_task_queued_in_the_database_commits_with_the_transaction_that_queued_it(queue_in_database):
    with pytest.raises(RuntimeError), transaction.atomic():
        dispatch.advance_execution("rolled-back")
        assert queue_in_database.count() == 1  # written in the transaction, not after it
        raise RuntimeError
    assert not queue_in_database.exists()  # and gone with it

    with transaction.atomic():
        dispatch.advance_execution("kept")
    assert queue_in_database.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_start_writes_its_task_in_its_own_transaction_with_the_queue_in_the_database(queue_in_database, namespace):
    account = AccountFactory(role=Role.ADMIN, default_namespace=namespace)
    flow = FlowFactory(namespace=namespace, source=SOURCE, created_by=account)
    written_in_transaction = []
    enqueue = BellORM.enqueue

    def recorded(self, task):
        written_in_transaction.append(connection.in_atomic_block)
        return enqueue(self, task)

    with mock.patch.object(BellORM, "enqueue", recorded):
        execution = execution_start(actor=account, flow=flow, inputs={"text": "x"})

    assert written_in_transaction == [True]
    [task] = queue_in_database
    assert str(execution.pk) in str(SignedPackage.loads(task.payload)["args"])


@pytest.mark.django_db(transaction=True)
def test_a_start_signs_its_task_before_it_sends_a_write(queue_in_database, namespace):
    """On SQLite the writer lock is taken with the first write: signing the message after it
    held every other writer of the machine up for that long."""
    account = AccountFactory(role=Role.ADMIN, default_namespace=namespace)
    flow = FlowFactory(namespace=namespace, source=SOURCE, created_by=account)
    writes_before_signing = []
    dumps = SignedPackage.dumps

    with CaptureQueriesContext(connection) as queries:

        def recorded(obj, *args, **kwargs):
            sent = [q["sql"] for q in queries.captured_queries]
            writes_before_signing.append(sum(sql.lstrip().upper().startswith(WRITES) for sql in sent))
            return dumps(obj, *args, **kwargs)

        with mock.patch("django_q.tasks.SignedPackage.dumps", recorded):
            execution = execution_start(actor=account, flow=flow, inputs={"text": "x"})

    assert writes_before_signing == [0]
    assert Execution.objects.filter(pk=execution.pk).exists() and queue_in_database.count() == 1
