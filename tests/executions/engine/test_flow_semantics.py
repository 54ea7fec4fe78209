"""allowFailure (the WARNING end) and declared `outputs`, run by the engine."""

import pytest

from executions.models import ExecutionStatus, TaskStatus
from flows.definitions import validate_definition
from tests.executions.engine.support import names_and_statuses, run_named
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
