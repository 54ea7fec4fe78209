"""The sweeper's questions, asked once a second, look their few rows up by an index on the
embedded default. SQLite's statistics say only how many rows share a status on average: once
most executions have ended, a status alone looks useless to its planner, which then read every
execution (1.4 s a sweep at a million, with the writer lock held). (`concurrency.start_waiting`
asks which flows have executions waiting: at this size a scan of the flows' index is what the
planner rightly prefers, so it is measured at a million rows by `bench/sizes.py` instead.)"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from executions.engine import sweeper
from executions.models import Execution, ExecutionStatus, TaskRun, TaskStatus
from tests.factories import ExecutionFactory, TaskRunFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner; PostgreSQL keeps per-value statistics"),
]

QUESTIONS = {
    "requeue_lost_dispatches": sweeper.requeue_lost_dispatches,
    "time_out_executions": sweeper.time_out_executions,
    "wake_due_steps": sweeper.wake_due_steps,
    "requeue_expired_leases": sweeper.requeue_expired_leases,
    "time_out_steps": sweeper.time_out_steps,
}


@pytest.fixture
def mostly_ended() -> None:
    """Many ended executions and task runs, as a database in use has, and what ANALYZE says of them."""
    template = ExecutionFactory(status=ExecutionStatus.SUCCESS)
    TaskRunFactory(execution=template, status=TaskStatus.SUCCESS)
    fields = {f.attname: getattr(template, f.attname) for f in Execution._meta.concrete_fields if f.attname != "id"}
    Execution.objects.bulk_create([Execution(**fields) for _ in range(1000)])
    run = TaskRun.objects.get(execution=template)
    run_fields = {f.attname: getattr(run, f.attname) for f in TaskRun._meta.concrete_fields if f.attname != "id"}
    TaskRun.objects.bulk_create([TaskRun(**run_fields) for _ in range(1000)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


@pytest.mark.usefixtures("mostly_ended")
@pytest.mark.parametrize("name", QUESTIONS)
def test_no_sweeper_question_reads_every_execution_or_task_run(name):
    with CaptureQueriesContext(connection) as queries:
        QUESTIONS[name](timezone.now())
    plans = []
    with connection.cursor() as cursor:
        for query in queries:
            if query["sql"].startswith("SELECT"):
                cursor.execute("EXPLAIN QUERY PLAN " + query["sql"])
                plans += [row[3] for row in cursor.fetchall()]
    assert plans  # it asked something
    scans = [step for step in plans if step.startswith(("SCAN executions_execution", "SCAN executions_taskrun"))]
    assert scans == [], plans
