"""allowFailure (the WARNING end), declared `outputs` and `finally` tasks, run by the engine."""

from typing import Any

import pytest

from connectors import registry
from connectors.registry import Plugin, PluginContext, Result
from executions.engine.sweeper import sweep
from executions.models import Execution, ExecutionStatus, TaskStatus
from executions.services import execution_cancel, execution_retry
from flows.definitions import validate_definition
from tests.executions.engine.support import later, names_and_statuses, run_named
from tests.factories import FlowFactory, SecretFactory, TriggerFactory
from vault.crypto import generate_key
from vault.masking import MASK

pytestmark = pytest.mark.usefixtures("eager")
E, T = ExecutionStatus, TaskStatus

# --- allowFailure and WARNING ---------------------------------------------------------------------

ALLOWED = """
name: allowed
tasks:
  - name: shaky
    type: util.echo
    allowFailure: true
    properties: {value: "{{ outputs.nothing }}"}
  - name: after
    type: util.echo
    properties: {value: went on}
"""


def test_an_allowed_failure_lets_the_flow_go_on_and_end_warning(run_flow):
    execution = run_flow(ALLOWED)
    assert execution.status == E.WARNING and execution.is_terminal and execution.finished_at is not None
    assert names_and_statuses(execution) == [("shaky", T.FAILED), ("after", T.SUCCESS)]
    assert execution.outputs == {"after": "went on"}
    assert execution.error == ""


def test_without_allow_failure_the_same_failure_fails_the_flow(run_flow):
    execution = run_flow(ALLOWED.replace("    allowFailure: true\n", ""))
    assert execution.status == E.FAILED
    assert names_and_statuses(execution) == [("shaky", T.FAILED)]


def test_an_allowed_failure_of_a_control_step_and_inside_a_branch(run_flow):
    execution = run_flow("""
name: nested
tasks:
  - name: group
    type: flow.sequential
    tasks:
      - name: stop
        type: flow.fail
        allowFailure: true
        message: not fatal
      - name: inner
        type: util.echo
        properties: {value: inner}
  - name: quit
    type: flow.fail
    allowFailure: true
  - name: last
    type: util.echo
    properties: {value: last}
""")
    assert execution.status == E.WARNING
    statuses = dict(names_and_statuses(execution))
    assert statuses == {"group": T.SUCCESS, "stop": T.FAILED, "inner": T.SUCCESS, "quit": T.FAILED, "last": T.SUCCESS}


def test_a_graph_node_with_allow_failure_follows_its_route(run_flow):
    execution = run_flow("""
nodes:
  start:
    type: util.echo
    allow_failure: true
    params: {value: "{{ outputs.nothing }}"}
    next: end
  end:
    type: util.echo
    params: {value: done}
""")
    assert execution.status == E.WARNING
    assert names_and_statuses(execution) == [("start", T.FAILED), ("end", T.SUCCESS)]


def test_a_warning_subflow_counts_as_success_for_its_parent(run_flow, namespace, runner_account):
    FlowFactory(namespace=namespace, name="child", source=ALLOWED.replace("name: allowed", "name: child"))
    execution = run_flow("""
name: parent
tasks:
  - name: call
    type: flow.subflow
    properties: {flowName: child}
  - name: after
    type: util.echo
    properties: {value: "{{ outputs.call.outputs.after }}"}
""")
    assert execution.status == E.SUCCESS
    assert run_named(execution, "after").outputs == "went on"


def test_a_flow_trigger_can_watch_warning(run_flow, namespace):
    watched = FlowFactory(namespace=namespace, name="allowed", source=ALLOWED)
    downstream = FlowFactory(
        namespace=namespace,
        name="downstream",
        source="name: downstream\ntasks:\n  - {name: hi, type: util.echo, properties: {value: hi}}\n",
    )
    TriggerFactory(flow=downstream, type="flow", source_flow=watched, statuses=["WARNING"])
    run_flow(ALLOWED, flow=watched)
    assert downstream.executions.get().status == E.SUCCESS


def test_allow_failure_must_be_a_boolean():
    problems = validate_definition(ALLOWED.replace("allowFailure: true", "allowFailure: maybe"))
    assert [(p.path, p.line) for p in problems] == [("tasks[0].allowFailure", 6)]


# --- declared outputs -----------------------------------------------------------------------------

DECLARED = """
name: declared
inputs:
  - {id: who, type: STRING, defaults: world}
tasks:
  - name: count
    type: util.echo
    properties: {value: {n: 41, text: "hello {{ inputs.who }}"}}
  - name: unused
    type: util.echo
    properties: {value: internal}
outputs:
  - {id: total, type: INT, value: "{{ outputs.count.n + 1 }}"}
  - {id: ratio, type: FLOAT, value: "{{ outputs.count.n }}"}
  - {id: greeting, type: STRING, value: "{{ outputs.count.text }}"}
  - {id: ok, type: BOOLEAN, value: "true"}
  - {id: data, type: JSON, value: '{"a": [1, 2]}'}
  - {id: flow, value: "{{ execution.flow }}"}
"""


def test_declared_outputs_are_all_the_execution_answers_typed(run_flow):
    execution = run_flow(DECLARED)
    assert execution.status == E.SUCCESS
    assert execution.outputs == {
        "total": 42,
        "ratio": 41.0,
        "greeting": "hello world",
        "ok": True,
        "data": {"a": [1, 2]},
        "flow": execution.flow_name,
    }


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ('{id: broken, value: "{{ outputs.missing }}"}', "undefined"),
        ('{id: broken, type: INT, value: "not a number"}', "expected an integer"),
        ('{id: broken, type: JSON, value: "{nope"}', "expected json"),
        ('{id: broken, type: JSON, value: "[NaN]"}', "expected json"),  # no column can hold NaN
    ],
)
def test_an_output_that_cannot_be_had_fails_the_execution_naming_it(run_flow, output, reason):
    execution = run_flow(DECLARED.replace('  - {id: flow, value: "{{ execution.flow }}"}', f"  - {output}"))
    assert execution.status == E.FAILED
    assert "Output 'broken'" in execution.error and reason in execution.error.lower()
    assert execution.outputs["total"] == 42 and "broken" not in execution.outputs  # what could be had


def test_a_secret_in_an_output_is_masked(run_flow, namespace, settings):
    settings.MILLRACE_CREDENTIALS_KEY = generate_key()
    SecretFactory(name="TOKEN", value="s3cr3t-value-123", namespace=namespace)
    execution = run_flow("""
name: leaky
tasks:
  - {name: a, type: util.echo, properties: {value: a}}
outputs:
  - {id: token, value: "{{ secret('TOKEN') }}"}
  - {id: plain, value: "{{ outputs.a }}"}
""")
    assert execution.status == E.SUCCESS
    assert execution.outputs == {"token": MASK, "plain": "a"}


def test_a_repeated_output_id_is_a_problem_with_its_line():
    problems = validate_definition(DECLARED.replace("{id: ratio,", "{id: total,"))
    assert [(p.path, p.line, p.code) for p in problems] == [("outputs[1].id", 14, "duplicate_name")]
    assert "duplicate output id 'total'" in problems[0].message


def test_bad_output_declarations_are_problems():
    problems = validate_definition(DECLARED.replace("type: BOOLEAN", "type: BOOL").replace(', value: "true"', ""))
    assert {(p.path, p.code) for p in problems} == {("outputs[3].type", "invalid_value"), ("outputs[3]", "missing")}


# --- finally --------------------------------------------------------------------------------------

FINALLY = """
name: tidy
tasks:
  - name: work
    type: util.echo
    properties: {value: work}
finally:
  - name: cleanup
    type: util.echo
    properties: {value: "cleaned after {{ outputs.get('work', 'nothing') }}"}
"""

NAP_FINALLY = """
name: tidy-nap
timeout: 10
tasks:
  - name: nap
    type: util.sleep
    properties: {seconds: 60}
  - name: never
    type: util.echo
    properties: {value: never}
finally:
  - name: cleanup
    type: util.echo
    properties: {value: cleaned}
"""


def test_finally_runs_after_success_and_keeps_the_status(run_flow):
    execution = run_flow(FINALLY)
    assert execution.status == E.SUCCESS
    assert names_and_statuses(execution) == [("work", T.SUCCESS), ("cleanup", T.SUCCESS)]
    assert execution.tasks_total == 1  # like `errors` handlers, finally tasks are not planned steps


def test_finally_runs_after_a_failure_and_after_the_errors_handlers(run_flow):
    execution = run_flow(
        FINALLY.replace("properties: {value: work}", 'properties: {value: "{{ outputs.x }}"}').replace(
            "finally:", "errors:\n  - {name: alert, type: util.echo, properties: {value: a}}\nfinally:"
        )
    )
    assert execution.status == E.FAILED and "Task 'work' failed" in execution.error
    assert names_and_statuses(execution) == [("work", T.FAILED), ("alert", T.SUCCESS), ("cleanup", T.SUCCESS)]


def test_a_failing_finally_task_fails_a_successful_execution(run_flow):
    execution = run_flow(FINALLY.replace('properties: {value: "cleaned', 'properties: {value: "{{ outputs.x }}'))
    assert execution.status == E.FAILED and "Task 'cleanup' failed" in execution.error


def test_a_cancelled_execution_runs_its_finally_tasks_then_ends_cancelled(run_flow, runner_account):
    execution = run_flow(NAP_FINALLY)
    assert execution.status == E.WAITING
    execution_cancel(actor=runner_account, execution=execution)
    execution.refresh_from_db()
    assert execution.status == E.CANCELLED and execution.ending == ""
    assert runner_account.username in execution.error
    assert names_and_statuses(execution) == [("nap", T.CANCELLED), ("cleanup", T.SUCCESS)]
    assert sweep(now=later(120))["woken"] == 0


def test_a_timed_out_execution_runs_its_finally_tasks_then_ends_timed_out(run_flow):
    execution = run_flow(NAP_FINALLY)
    assert sweep(now=later(20))["executionsTimedOut"] == 1
    execution.refresh_from_db()
    assert execution.status == E.TIMED_OUT and "timed out" in execution.error
    assert names_and_statuses(execution) == [("nap", T.TIMED_OUT), ("cleanup", T.SUCCESS)]


def test_finally_tasks_that_wait_hold_the_end_and_a_second_cancel_ends_at_once(run_flow, runner_account):
    execution = run_flow(
        NAP_FINALLY.replace("properties: {value: cleaned}", "properties: {seconds: 30}").replace(
            "name: cleanup\n    type: util.echo", "name: cleanup\n    type: util.sleep"
        )
    )
    execution_cancel(actor=runner_account, execution=execution)
    execution.refresh_from_db()
    assert execution.status == E.WAITING and execution.ending == E.CANCELLED  # the cleanup sleeps
    assert names_and_statuses(execution) == [("nap", T.CANCELLED), ("cleanup", T.WAITING)]
    execution_cancel(actor=runner_account, execution=execution)
    execution.refresh_from_db()
    assert execution.status == E.CANCELLED and execution.ending == ""
    assert names_and_statuses(execution) == [("nap", T.CANCELLED), ("cleanup", T.CANCELLED)]


def test_finally_waits_for_the_sleeping_cleanup_then_ends_cancelled(run_flow, runner_account):
    execution = run_flow(
        NAP_FINALLY.replace("properties: {value: cleaned}", "properties: {seconds: 30}").replace(
            "name: cleanup\n    type: util.echo", "name: cleanup\n    type: util.sleep"
        )
    )
    execution_cancel(actor=runner_account, execution=execution)
    assert sweep(now=later(40))["woken"] == 1
    execution.refresh_from_db()
    assert execution.status == E.CANCELLED
    assert names_and_statuses(execution) == [("nap", T.CANCELLED), ("cleanup", T.SUCCESS)]


def test_a_cancel_while_a_step_runs_lets_it_finish_then_runs_finally(run_flow, runner_account, monkeypatch):
    """The worker that runs the step guessed the execution unchanged; the cancel changed only
    `ending`, which the guard of its one-statement write checks too."""

    class CancelWhileRunning(Plugin):
        id = "test.cancel_while_running"
        name = category = "test"

        def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
            execution_cancel(actor=runner_account, execution=Execution.objects.get(pk=ctx.execution_id))
            return Result.success("finished anyway")

    monkeypatch.setitem(registry._REGISTRY, CancelWhileRunning.id, CancelWhileRunning)
    execution = run_flow(
        FINALLY.replace("type: util.echo\n    properties: {value: work}", "type: test.cancel_while_running")
    )
    assert execution.status == E.CANCELLED and execution.ending == ""
    assert names_and_statuses(execution) == [("work", T.SUCCESS), ("cleanup", T.SUCCESS)]
    assert run_named(execution, "cleanup").outputs == "cleaned after finished anyway"


def test_a_retry_runs_the_finally_tasks_again(run_flow, runner_account):
    execution = run_flow(FINALLY.replace("properties: {value: work}", 'properties: {value: "{{ outputs.x }}"}'))
    assert execution.status == E.FAILED
    execution_retry(actor=runner_account, execution=execution)
    execution.refresh_from_db()
    assert execution.status == E.FAILED and execution.attempt == 2
    assert [name for name, _ in names_and_statuses(execution)] == ["work", "cleanup", "cleanup"]


def test_finally_task_names_are_unique_with_the_others():
    problems = validate_definition(FINALLY.replace("name: cleanup", "name: work"))
    assert [(p.path, p.code) for p in problems] == [("finally[0]", "duplicate_name")]
