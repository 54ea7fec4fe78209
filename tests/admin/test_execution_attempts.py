"""After a retry the execution page counts steps, not task-run rows, times the attempt that
ran, and draws one timeline row per attempt of a step instead of one bar across both."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.roles import Role
from executions.admin.timeline import timeline
from executions.engine.sweeper import sweep
from executions.models import Execution, ExecutionEvent, ExecutionStatus, TaskRun, TaskStatus
from executions.services import execution_retry, execution_start
from tests.admin.helpers import change_url
from tests.factories import AccountFactory, FlowFactory, NamespaceFactory

E, T = ExecutionStatus, TaskStatus
FAILING_WITH_HANDLER = """
name: failing-with-handler
tasks:
  - name: first
    type: util.echo
    properties: {value: one}
  - name: check
    type: data.json.parse
    properties: {text: "not json"}
  - name: last
    type: util.echo
    properties: {value: never}
errors:
  - name: alert
    type: util.log
    properties: {message: "it failed"}
"""
RETRIED_STEP = """
name: retried-step
tasks:
  - name: parse
    type: data.json.parse
    retry: {maxAttempts: 3, delay: 30, backoff: 1}
    properties: {text: "not json"}
"""
GAP = timedelta(minutes=7)


@pytest.fixture
def space(settings, transactional_db):
    settings.MILLRACE_ENGINE_EAGER = True
    return NamespaceFactory(name="space-retries")


@pytest.fixture
def executor(space):
    return AccountFactory(username="retrier", role=Role.EXECUTOR, default_namespace=space)


def start(source: str, space, actor) -> Execution:
    execution = execution_start(actor=actor, flow=FlowFactory(namespace=space, source=source), inputs={})
    execution.refresh_from_db()
    return execution


def seven_minutes_ago(execution: Execution) -> None:
    """Move everything recorded so far back by GAP: the retry then comes 7 minutes later."""
    for event in execution.events.all():
        ExecutionEvent.objects.filter(pk=event.pk).update(created_at=event.created_at - GAP)
    for run in execution.task_runs.all():
        TaskRun.objects.filter(pk=run.pk).update(
            started_at=run.started_at - GAP, finished_at=run.finished_at - GAP if run.finished_at else None
        )
    Execution.objects.filter(pk=execution.pk).update(
        started_at=execution.started_at - GAP, finished_at=execution.finished_at - GAP
    )


def facts(page: str) -> str:
    block = page[page.index('class="execution-facts"') :]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", block[: block.index("</p>")]))


def test_a_retried_execution_counts_steps_and_times_its_last_attempt(client, space, executor):
    execution = start(FAILING_WITH_HANDLER, space, executor)
    assert execution.status == E.FAILED
    seven_minutes_ago(execution)
    execution_retry(actor=executor, execution=execution)
    execution.refresh_from_db()
    assert execution.status == E.FAILED and execution.attempt == 2
    assert execution.tasks_executed == 4  # the engine's counter: both attempts' handlers

    client.force_login(executor)
    page = client.get(change_url(execution)).content.decode()
    shown = facts(page)
    assert "2 of 3 tasks (and 1 handler)" in shown
    took = re.search(r"took ([\d.]+) s \((7 min \d+ s) since the first attempt started\)", shown)
    assert took is not None, shown
    assert float(took.group(1)) < 60

    rows = re.findall(
        r'<tr class="task-row status-(\w+)[^"]*" data-step="(\w+)" data-status="\w+" data-attempt="(\d)"', page
    )
    assert [(step, attempt, status) for status, step, attempt in rows if step == "check"] == [
        ("check", "1", "failed"),
        ("check", "2", "failed"),
    ]
    assert [step for _, step, _ in rows].count("first") == 1  # kept from attempt 1, not run again


def test_no_bar_spans_the_time_between_two_attempts(space, executor):
    execution = start(FAILING_WITH_HANDLER, space, executor)
    seven_minutes_ago(execution)
    execution_retry(actor=executor, execution=execution)
    execution.refresh_from_db()
    runs = list(execution.task_runs.order_by("sequence"))
    rows = [row for row in timeline(execution, runs) if row.run.step_id == "check"]
    assert [(row.attempt, row.status, row.earlier is not None) for row in rows] == [
        (1, T.FAILED, True),
        (2, T.FAILED, False),
    ]
    assert all(row.width < 5 for row in rows)  # each attempt took milliseconds of a 7-minute window
    assert rows[0].offset < 5 and rows[1].offset > 95
    assert "Invalid JSON" in rows[0].earlier.error


def test_a_step_retried_by_its_retry_policy_shows_each_attempt(client, space, executor):
    execution = start(RETRIED_STEP, space, executor)
    sweep(now=timezone.now() + timedelta(seconds=31))
    sweep(now=timezone.now() + timedelta(seconds=62))
    execution.refresh_from_db()
    assert execution.status == E.FAILED
    parse = execution.task_runs.get()
    assert parse.attempt == 3
    rows = timeline(execution, [parse])
    assert [(row.attempt, row.status) for row in rows] == [(1, T.RETRYING), (2, T.RETRYING), (3, T.FAILED)]
    client.force_login(executor)
    page = client.get(change_url(execution)).content.decode()
    assert len(re.findall(r'<tr class="task-row[^"]*" data-step="parse"', page)) == 3  # a timeline row per attempt
    assert re.search(r"\b1 of 1 task\b(?!s)", facts(page)) and "handler" not in facts(page)


def test_a_first_attempt_keeps_one_row_per_run_and_its_whole_duration(client, space, executor):
    execution = start(FAILING_WITH_HANDLER.replace('"not json"', '"[1]"'), space, executor)
    assert execution.status == E.SUCCESS
    client.force_login(executor)
    shown = facts(client.get(change_url(execution)).content.decode())
    assert "3 of 3 tasks" in shown and "handler" not in shown and "first attempt" not in shown
    rows = timeline(execution, list(execution.task_runs.order_by("sequence")))
    assert [(row.run.name, row.attempt) for row in rows] == [("first", 1), ("check", 1), ("last", 1)]
