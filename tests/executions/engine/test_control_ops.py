"""Cancel, pause/resume, retry of an execution, and who may do them."""

from typing import Any

import pytest

from accounts.roles import Role
from connectors import registry
from connectors.registry import Plugin, PluginContext, Result
from core.errors import Conflict, Forbidden, NotFound
from executions.engine.sweeper import sweep
from executions.models import Approval, Execution, ExecutionEvent, ExecutionStatus, TaskRun, TaskStatus
from executions.services import (
    approval_decide,
    execution_cancel,
    execution_pause,
    execution_resume,
    execution_retry,
    execution_start,
)
from tests.executions.engine.support import later, names_and_statuses, run_named
from tests.factories import FlowFactory
from vault.services import kv_put

pytestmark = pytest.mark.usefixtures("eager")
E, T = ExecutionStatus, TaskStatus

GATE = """
name: gated
tasks:
  - name: ask
    type: flow.pause
  - name: after
    type: util.echo
    properties: {value: done}
"""

NAP = """
name: napper
tasks:
  - name: nap
    type: util.sleep
    properties: {seconds: 30}
  - name: after
    type: util.echo
    properties: {value: "{{ outputs.nap.slept }}"}
"""

FLAGGED = """
name: flagged
tasks:
  - name: first
    type: util.echo
    properties: {value: one}
  - name: check
    type: util.echo
    properties: {value: "flag is {{ kv('flag') }}"}
  - name: last
    type: util.echo
    properties: {value: "{{ outputs.first }} and {{ outputs.check }}"}
"""


# --- cancel ------------------------------------------------------------------------------------


def test_cancel_during_a_waiting_step_ends_it_and_rejects_the_approval(run_flow, runner_account):
    execution = run_flow(GATE)
    assert execution.status == E.WAITING
    approval = Approval.objects.get(execution=execution)
    returned = execution_cancel(actor=runner_account, execution=execution)
    assert returned.status == E.CANCELLED
    execution.refresh_from_db()
    approval.refresh_from_db()
    assert execution.status == E.CANCELLED and execution.finished_at is not None
    assert runner_account.username in execution.error
    assert names_and_statuses(execution) == [("ask", T.CANCELLED)]
    assert approval.status == Approval.Status.REJECTED and approval.decided_at is not None
    with pytest.raises(Conflict):
        execution_cancel(actor=runner_account, execution=execution)
    with pytest.raises(Conflict):
        approval_decide(actor=runner_account, approval=approval, approve=True)
    assert names_and_statuses(execution) == [("ask", T.CANCELLED)]  # `after` never started


def test_a_cancelled_timer_does_not_wake(run_flow, runner_account):
    execution = run_flow(NAP)
    execution_cancel(actor=runner_account, execution=execution)
    assert sweep(now=later(60))["woken"] == 0
    execution.refresh_from_db()
    assert execution.status == E.CANCELLED
    assert names_and_statuses(execution) == [("nap", T.CANCELLED)]


# --- pause and resume --------------------------------------------------------------------------


def test_pause_stops_a_woken_step_from_running_until_resume(run_flow, runner_account):
    execution = run_flow(NAP)
    assert execution.status == E.WAITING
    assert execution_pause(actor=runner_account, execution=execution).status == E.PAUSED
    execution.refresh_from_db()
    assert execution.status == E.PAUSED  # at once

    assert sweep(now=later(31))["woken"] == 1  # the timer is due ...
    execution.refresh_from_db()
    nap = run_named(execution, "nap")
    assert execution.status == E.PAUSED
    assert (nap.status, nap.outputs) == (T.QUEUED, None)  # ... but the step does not run while paused
    assert [name for name, _ in names_and_statuses(execution)] == ["nap"]

    execution_resume(actor=runner_account, execution=execution)
    execution.refresh_from_db()
    assert execution.status == E.SUCCESS, execution.error
    assert names_and_statuses(execution) == [("nap", T.SUCCESS), ("after", T.SUCCESS)]
    assert run_named(execution, "after").outputs == 30


def test_a_running_step_finishes_while_paused_but_the_next_one_waits(run_flow, runner_account, monkeypatch):
    class PauseWhileRunning(Plugin):
        """Pauses its own execution mid-run, as an operator would while the step runs."""

        id = "test.pause_while_running"
        name = category = "test"

        def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
            execution_pause(actor=runner_account, execution=Execution.objects.get(pk=ctx.execution_id))
            return Result.success("finished anyway")

    monkeypatch.setitem(registry._REGISTRY, PauseWhileRunning.id, PauseWhileRunning)
    execution = run_flow("""
name: paused-mid-step
tasks:
  - name: busy
    type: test.pause_while_running
  - name: after
    type: util.echo
    properties: {value: "{{ outputs.busy }}"}
""")
    assert execution.status == E.PAUSED
    assert names_and_statuses(execution) == [("busy", T.SUCCESS)]  # recorded; `after` not started
    assert run_named(execution, "busy").outputs == "finished anyway"
    assert sweep(now=later(60)) == {
        "woken": 0,
        "requeued": 0,
        "redispatched": 0,
        "stepsTimedOut": 0,
        "executionsTimedOut": 0,
        "callbacks": 0,
        "slotsHandedOn": 0,
        "purged": 0,
    }
    assert names_and_statuses(execution) == [("busy", T.SUCCESS)]

    execution_resume(actor=runner_account, execution=execution)
    execution.refresh_from_db()
    assert execution.status == E.SUCCESS, execution.error
    assert run_named(execution, "after").outputs == "finished anyway"


def test_pause_and_resume_refuse_executions_in_the_wrong_status(run_flow, runner_account):
    done = run_flow("name: quick\ntasks:\n  - name: a\n    type: util.echo\n    properties: {value: 1}\n")
    assert done.status == E.SUCCESS
    with pytest.raises(Conflict):
        execution_pause(actor=runner_account, execution=done)
    waiting = run_flow(NAP)
    with pytest.raises(Conflict):
        execution_resume(actor=runner_account, execution=waiting)


# --- retry -------------------------------------------------------------------------------------


def test_retry_reruns_the_failed_step_in_place_and_keeps_earlier_outputs(run_flow, runner_account, namespace):
    execution = run_flow(FLAGGED)
    assert execution.status == E.FAILED
    assert "check" in execution.error and "flag" in execution.error
    first = run_named(execution, "first")
    assert names_and_statuses(execution) == [("first", T.SUCCESS), ("check", T.FAILED)]
    last_event = ExecutionEvent.objects.filter(execution=execution).latest("id").id

    kv_put(namespace_id=namespace.pk, key="flag", value="on")  # fix the condition
    execution_retry(actor=runner_account, execution=execution)
    execution.refresh_from_db()
    assert execution.status == E.SUCCESS, execution.error
    assert execution.attempt == 2 and execution.error == ""
    again = run_named(execution, "first")
    assert (again.attempt, again.outputs, again.finished_at) == (1, "one", first.finished_at)
    assert not ExecutionEvent.objects.filter(task_run=first, id__gt=last_event).exists()  # not re-run
    check = run_named(execution, "check")
    assert (check.status, check.attempt, check.outputs, check.error) == (T.SUCCESS, 2, "flag is on", "")
    assert run_named(execution, "last").outputs == "one and flag is on"
    assert execution.task_runs.count() == 3  # in place: no new task runs for retried steps

    with pytest.raises(Conflict):
        execution_retry(actor=runner_account, execution=execution)


def test_retry_after_a_step_timeout_gives_the_step_a_new_deadline(run_flow, runner_account):
    execution = run_flow("""
name: slow-then-fine
tasks:
  - name: nap
    type: util.sleep
    timeout: 5
    properties: {seconds: 30}
""")
    sweep(now=later(10))
    execution.refresh_from_db()
    assert execution.status == E.FAILED
    execution_retry(actor=runner_account, execution=execution)
    nap = run_named(execution, "nap")
    assert (nap.status, nap.attempt) == (T.WAITING, 2)
    assert sweep()["stepsTimedOut"] == 0  # the old deadline is gone
    sweep(now=later(31))
    execution.refresh_from_db()
    assert execution.status == E.SUCCESS, execution.error


def test_retry_leaves_error_handlers_of_the_earlier_attempt_alone(run_flow, runner_account, namespace):
    execution = run_flow(
        FLAGGED
        + """
errors:
  - name: alert
    type: data.json.parse
    properties: {text: "not json"}
"""
    )
    assert execution.status == E.FAILED
    assert run_named(execution, "alert").status == T.FAILED
    kv_put(namespace_id=namespace.pk, key="flag", value="on")
    execution_retry(actor=runner_account, execution=execution)
    execution.refresh_from_db()
    assert execution.status == E.SUCCESS, execution.error
    alert = run_named(execution, "alert")
    assert (alert.status, alert.attempt, alert.execution_attempt) == (T.FAILED, 1, 1)


def test_retry_of_a_cancelled_gate_asks_for_approval_again(run_flow, runner_account):
    execution = run_flow(GATE)
    execution_cancel(actor=runner_account, execution=execution)
    execution_retry(actor=runner_account, execution=execution)
    execution.refresh_from_db()
    assert execution.status == E.WAITING
    assert run_named(execution, "ask").status == T.WAITING
    approval = Approval.objects.get(execution=execution, status=Approval.Status.PENDING)
    approval_decide(actor=runner_account, approval=approval, approve=True)
    execution.refresh_from_db()
    assert execution.status == E.SUCCESS


# --- roles --------------------------------------------------------------------------------------


@pytest.fixture
def viewer(make_account):
    return make_account(Role.VIEWER)


@pytest.fixture
def outsider(make_account, other_namespace):
    return make_account(Role.EDITOR, namespace=other_namespace)


def test_a_viewer_may_not_start_cancel_or_decide(run_flow, viewer, namespace):
    flow = FlowFactory(namespace=namespace, source=GATE)
    with pytest.raises(Forbidden):
        execution_start(actor=viewer, flow=flow)
    assert not Execution.objects.filter(flow=flow).exists()
    execution = run_flow("", flow=flow)
    approval = Approval.objects.get(execution=execution)
    for action in (
        lambda: execution_cancel(actor=viewer, execution=execution),
        lambda: execution_pause(actor=viewer, execution=execution),
        lambda: approval_decide(actor=viewer, approval=approval, approve=True),
    ):
        with pytest.raises(Forbidden):
            action()
    execution.refresh_from_db()
    approval.refresh_from_db()
    assert execution.status == E.WAITING and approval.status == Approval.Status.PENDING


def test_an_account_outside_the_namespace_gets_not_found(run_flow, outsider, namespace):
    flow = FlowFactory(namespace=namespace, source=GATE)
    with pytest.raises(NotFound):
        execution_start(actor=outsider, flow=flow)
    execution = run_flow("", flow=flow)
    approval = Approval.objects.get(execution=execution)
    for action in (
        lambda: execution_cancel(actor=outsider, execution=execution),
        lambda: execution_retry(actor=outsider, execution=execution),
        lambda: approval_decide(actor=outsider, approval=approval, approve=False),
    ):
        with pytest.raises(NotFound):
            action()
    assert Execution.objects.get(pk=execution.pk).status == E.WAITING
    assert TaskRun.objects.get(execution=execution).status == T.WAITING


def test_an_executor_may_run_and_cancel(make_account, namespace):
    executor = make_account(Role.EXECUTOR)
    flow = FlowFactory(namespace=namespace, source=GATE)
    execution = execution_start(actor=executor, flow=flow)
    execution_cancel(actor=executor, execution=execution)
    assert Execution.objects.get(pk=execution.pk).status == E.CANCELLED
