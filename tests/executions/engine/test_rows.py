"""The walk's execution read: the same instance the ORM builds, its namespace, its lock."""

import uuid
from datetime import timedelta

import psycopg
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from executions.engine.rows import (
    SNAPSHOT_SOURCE_LIMIT,
    execution_from_snapshot,
    execution_refresh,
    execution_row,
    execution_snapshot,
)
from executions.models import Execution
from tests.factories import ExecutionFactory

pytestmark = pytest.mark.django_db


def concrete(execution: Execution) -> dict:
    return {f.attname: getattr(execution, f.attname) for f in Execution._meta.concrete_fields}


def test_reads_every_column_as_the_orm_does_with_the_namespace_joined(django_assert_num_queries):
    created = ExecutionFactory(
        inputs={"n": 3, "nested": {"a": [1, None, "x"]}},
        outputs={"value": 1.5},
        deadline=timezone.now() + timedelta(minutes=5),
        started_at=timezone.now(),
        status=Execution.Status.RUNNING,
        attempt=2,
    )
    with django_assert_num_queries(1):
        read = execution_row(str(created.pk))  # the id as a string, as a queued task carries it
        namespace = read.namespace
    assert concrete(read) == concrete(Execution.objects.get(pk=created.pk))
    assert read.inputs == {"n": 3, "nested": {"a": [1, None, "x"]}}
    assert read.started_at.tzinfo is not None
    assert namespace == created.namespace and namespace.name == created.namespace.name
    assert not read._state.adding and read._state.db == connection.alias


def test_an_unknown_id_reads_nothing():
    ExecutionFactory()
    assert execution_row(uuid.uuid4()) is None


def test_like_takes_the_source_and_namespace_from_the_earlier_read_and_the_rest_anew(django_assert_num_queries):
    execution = ExecutionFactory(source="name: frozen\ntasks: []\n")
    earlier = execution_row(execution.pk)
    Execution.objects.filter(pk=execution.pk).update(status=Execution.Status.CANCELLED, steps_taken=7)

    with django_assert_num_queries(1), CaptureQueriesContext(connection) as queries:
        fresh = execution_row(execution.pk, like=earlier)
        source, namespace = fresh.source, fresh.namespace

    assert (fresh.status, fresh.steps_taken) == (Execution.Status.CANCELLED, 7)
    assert source == "name: frozen\ntasks: []\n" and namespace is earlier.namespace
    assert "source" not in queries[0]["sql"] and "JOIN" not in queries[0]["sql"]


def test_a_lock_is_asked_for_only_where_the_database_has_row_locks():
    execution = ExecutionFactory()
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        assert execution_row(execution.pk, lock=True).pk == execution.pk
    locking = "FOR UPDATE OF e" in queries[0]["sql"]
    assert locking == (connection.vendor == "postgresql")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_the_lock_holds_the_row_against_another_connection():
    execution = ExecutionFactory()
    settings = connection.settings_dict
    other = psycopg.connect(
        host=settings["HOST"], port=settings["PORT"] or 5432, user=settings["USER"], dbname=settings["NAME"]
    )
    try:
        with transaction.atomic():
            execution_row(execution.pk, lock=True)
            with pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute("SELECT 1 FROM executions_execution WHERE id = %s FOR UPDATE NOWAIT", [execution.pk])
        other.rollback()
        assert other.execute("SELECT 1 FROM executions_execution WHERE id = %s FOR UPDATE NOWAIT", [execution.pk])
    finally:
        other.close()


def test_a_snapshot_gives_what_a_read_would(django_assert_num_queries):
    execution = ExecutionFactory(inputs={"items": [1, 2]}, trigger_data={"k": "v"})
    execution.inputs = {"items": (1, 2)}  # as a caller might hold it; the row has a list
    Execution.objects.filter(pk=execution.pk).update(inputs={"items": [1, 2]})
    namespace = execution.namespace

    with django_assert_num_queries(0):
        handed = execution_from_snapshot(execution_snapshot(execution, namespace))
        handed_namespace = handed.namespace

    read = execution_row(execution.pk)
    assert concrete(handed) == concrete(read)
    assert handed.inputs == {"items": [1, 2]}
    assert (handed_namespace.pk, handed_namespace.name) == (namespace.pk, namespace.name)
    assert not handed._state.adding


def test_a_long_source_is_not_handed_over():
    execution = ExecutionFactory(source="x" * (SNAPSHOT_SOURCE_LIMIT + 1))
    assert execution_snapshot(execution, execution.namespace) is None


def test_a_field_the_snapshot_lacks_loads_when_used_and_one_the_model_lacks_is_ignored():
    execution = ExecutionFactory(flow_name="older")
    snapshot = execution_snapshot(execution, execution.namespace)
    del snapshot["execution"]["flow_name"]  # a message from before the field existed
    snapshot["execution"]["retired"] = "x"  # or with a field since removed: ignored

    handed = execution_from_snapshot(snapshot)

    assert handed.get_deferred_fields() == {"flow_name"}
    assert handed.flow_name == "older"  # loaded from the row
    assert not hasattr(handed, "retired")


def test_a_refresh_reads_the_fields_asked_for_as_the_orm_does(django_assert_num_queries):
    created = ExecutionFactory(status=Execution.Status.RUNNING)
    Execution.objects.filter(pk=created.pk).update(
        status=Execution.Status.SUCCESS, outputs={"rows": [{"a": 1}], "text": "é"}, error="late"
    )
    with django_assert_num_queries(1):
        execution_refresh(created, ("status", "outputs"))
    expected = Execution.objects.get(pk=created.pk)
    assert (created.status, created.outputs) == (expected.status, expected.outputs)
    assert created.outputs == {"rows": [{"a": 1}], "text": "é"}
    assert created.error != "late"  # not asked for: left as it was


def test_a_refresh_of_a_deleted_execution_says_it_does_not_exist():
    created = ExecutionFactory()
    Execution.objects.filter(pk=created.pk).delete()
    with pytest.raises(Execution.DoesNotExist):
        execution_refresh(created, ("status",))
