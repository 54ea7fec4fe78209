"""A running step learns that its execution ended (`StepContext.is_cancelled`), whatever ended it:
a cancel, a flow timeout, another step's failure; a flow timeout stops a running script."""

import threading
import time

import pytest
from django.db import connection

from executions.engine.context import StepContext
from executions.engine.sweeper import sweep
from executions.models import Execution, ExecutionStatus, TaskStatus
from executions.services import execution_start
from flows.definitions import compile_definition
from tests.executions.engine.support import run_named
from tests.factories import ExecutionFactory, FlowFactory, TaskRunFactory

E, T = ExecutionStatus, TaskStatus

WITH_FINALLY = """
name: tidy
tasks:
  - name: work
    type: util.echo
    properties: {value: work}
finally:
  - name: cleanup
    type: util.echo
    properties: {value: cleaned}
"""


def step_context(status: str, *, ending: str = "", step: str = "work") -> StepContext:
    flow = FlowFactory(source=WITH_FINALLY)
    execution = ExecutionFactory(flow=flow, status=status, ending=ending)
    step_id = next(s.id for s in compile_definition(WITH_FINALLY).steps() if s.name == step)
    run = TaskRunFactory(execution=execution, step_id=step_id, name=step, status=T.RUNNING)
    return StepContext(execution, run, set())


@pytest.mark.django_db
@pytest.mark.parametrize("status", [E.TIMED_OUT, E.CANCELLED, E.FAILED, E.SUCCESS, E.WARNING])
def test_a_running_step_stops_once_its_execution_ended_for_any_reason(status):
    assert step_context(status).is_cancelled()


@pytest.mark.django_db
@pytest.mark.parametrize("status", [E.RUNNING, E.WAITING, E.PAUSED])
def test_a_running_step_of_a_live_execution_goes_on(status):
    assert not step_context(status).is_cancelled()


@pytest.mark.django_db
@pytest.mark.parametrize("ending", [E.TIMED_OUT, E.CANCELLED])
def test_an_ending_execution_stops_its_steps_but_not_its_finally_tasks(ending):
    """A cancel or flow timeout of a flow with `finally` tasks keeps the execution RUNNING
    until they ran; the steps it interrupted stop, the `finally` tasks themselves do not."""
    assert step_context(E.RUNNING, ending=ending).is_cancelled()
    assert not step_context(E.RUNNING, ending=ending, step="cleanup").is_cancelled()


@pytest.mark.django_db
def test_a_step_ended_from_outside_stops():
    context = step_context(E.RUNNING)
    type(context.run).objects.filter(pk=context.run.pk).delete()
    assert context.is_cancelled()


TIMED_SCRIPT = """
name: bounded-script
timeout: 2
tasks:
  - name: long
    type: script.shell
    properties:
      commands: ["sleep 30", "echo finished"]
"""


@pytest.mark.services  # two threads on one database: the in-memory SQLite test database locks
def test_a_flow_timeout_stops_a_running_script(settings, transactional_db, namespace):
    settings.MILLRACE_ENGINE_EAGER = True
    flow = FlowFactory(namespace=namespace, source=TIMED_SCRIPT)

    def run() -> None:
        try:
            execution_start(actor=None, flow=flow)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    started = time.monotonic()
    thread.start()
    try:
        timed_out = 0
        while not timed_out and time.monotonic() - started < 20:
            time.sleep(0.5)
            timed_out = sweep()["executionsTimedOut"]
        assert timed_out == 1
    finally:
        thread.join(timeout=40)
    assert time.monotonic() - started < 15  # the script's 30 s sleep did not run out
    execution = Execution.objects.get(flow=flow)
    assert execution.status == E.TIMED_OUT
    long = run_named(execution, "long")
    assert long.status == T.FAILED  # stopped by the end, never recorded SUCCESS
    assert long.error.startswith("The script was stopped")
    assert "finished" not in (long.outputs or {}).get("stdout", "")
