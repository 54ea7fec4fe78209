"""`execution_page`: what a list renders, in a number of queries that does not grow with the page."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.roles import Role
from accounts.selectors import creator_role
from executions import selectors
from executions.models import Execution, TaskRun
from tests.factories import (
    AccountFactory,
    ExecutionFactory,
    FlowFactory,
    MembershipFactory,
    NamespaceFactory,
    TaskRunFactory,
)

pytestmark = pytest.mark.django_db


def _task(execution: Execution, sequence: int, loop_index: int | None = None) -> TaskRun:
    return TaskRunFactory(
        execution=execution,
        step_id=f"s{sequence}",
        name=f"s{sequence}",
        plugin_type="util.echo",
        sequence=sequence,
        loop_index=loop_index,
    )


def _render(page) -> list[tuple]:
    return [
        (run.pk, creator_role(run), [task.sequence for task in getattr(run, selectors.PAGE_TASKS_ATTR)]) for run in page
    ]


def test_execution_page_prefetches_top_level_tasks_and_creator_roles_in_fixed_queries():
    team = NamespaceFactory()
    viewer = AccountFactory(role=Role.VIEWER, default_namespace=team)
    member = AccountFactory(role=Role.VIEWER, default_namespace=NamespaceFactory())
    MembershipFactory(account=member, namespace=team, role=Role.EDITOR)
    flow = FlowFactory(namespace=team)
    runs = [ExecutionFactory(flow=flow, created_by=who) for who in (viewer, member, None)]
    for run in runs:
        _task(run, 2)
        _task(run, 1)
        _task(run, 3, loop_index=0)

    page = selectors.execution_page(Execution.objects.filter(namespace=team), order=["created_at"])
    with CaptureQueriesContext(connection) as captured:
        rendered = _render(page)
    assert len(captured.captured_queries) == 3  # the page, its namespaces, its task runs; no query per run
    assert rendered == [
        (runs[0].pk, Role.VIEWER, [1, 2]),
        (runs[1].pk, Role.EDITOR, [1, 2]),
        (runs[2].pk, None, [1, 2]),
    ]

    with_loops = selectors.execution_page(
        Execution.objects.filter(pk=runs[0].pk), order=["-created_at"], include_loop_tasks=True
    )
    assert _render(with_loops) == [(runs[0].pk, Role.VIEWER, [1, 2, 3])]


def test_task_runs_can_leave_out_loop_iterations():
    run = ExecutionFactory()
    _task(run, 1)
    _task(run, 2, loop_index=0)
    assert [task.sequence for task in selectors.task_runs(execution=run)] == [1, 2]
    assert [task.sequence for task in selectors.task_runs(execution=run, include_loop_tasks=False)] == [1]
