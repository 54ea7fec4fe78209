"""On PostgreSQL a purge under load does not block running executions: while a purge holds a
chunk's transaction open, another execution's steps commit."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models.signals import post_delete
from django.utils import timezone

from executions.engine import retention
from executions.models import Execution, ExecutionEvent, ExecutionStatus, TaskRun
from tests.executions.engine.support import TWO_STEPS
from tests.factories import FlowFactory

pytestmark = pytest.mark.services
OLD = 1200  # three chunks


def old_executions(flow) -> None:
    executions = Execution.objects.bulk_create(
        Execution(flow=flow, flow_name=flow.name, namespace=flow.namespace, status=ExecutionStatus.SUCCESS)
        for _ in range(OLD)
    )
    runs = TaskRun.objects.bulk_create(
        TaskRun(execution=e, step_id="first", name="first", plugin_type="util.echo", sequence=1, status="SUCCESS")
        for e in executions
    )
    ExecutionEvent.objects.bulk_create(
        ExecutionEvent(execution=run.execution, task_run=run, type="log", message="old")
        for run in runs
        for _ in range(3)
    )
    when = timezone.now() - timedelta(days=60)
    Execution.objects.filter(flow=flow).update(created_at=when, finished_at=when)


def test_steps_of_a_running_execution_commit_while_a_purge_chunk_is_open(run_flow, namespace, runner_account):
    flow = FlowFactory(namespace=namespace, source=TWO_STEPS, created_by=runner_account)
    old_executions(flow)
    inside, release = threading.Event(), threading.Event()
    purged: list[int] = []

    def hold_the_first_chunk(sender, **kwargs) -> None:
        if not inside.is_set():
            inside.set()
            release.wait(timeout=60)

    def purge() -> None:
        try:
            purged.append(retention.purge_expired(timezone.now()).executions)
        finally:
            connection.close()

    post_delete.connect(hold_the_first_chunk, sender=Execution, weak=False)
    purger = threading.Thread(target=purge)
    try:
        purger.start()
        assert inside.wait(timeout=60), "the purge never reached its first chunk"
        with connection.cursor() as cursor:  # a step blocked on the purge's locks fails, not waits
            cursor.execute("SET lock_timeout = '5s'")
        execution = run_flow(TWO_STEPS, flow=flow)
        assert purger.is_alive()  # the chunk's transaction was open all along
    finally:
        release.set()
        purger.join(timeout=120)
        post_delete.disconnect(hold_the_first_chunk, sender=Execution)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")

    assert execution.status == ExecutionStatus.SUCCESS
    assert purged == [OLD]
    assert list(Execution.objects.values_list("pk", flat=True)) == [execution.pk]
