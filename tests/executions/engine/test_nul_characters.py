"""A NUL character in what the engine writes (outputs, logs, errors, inputs, webhook bodies) is
stored as U+FFFD on every backend: PostgreSQL refuses it in text and jsonb, and a refused write
used to leave the execution RUNNING."""

import pytest

from accounts.roles import Role
from executions.engine.nulchars import without_nul
from executions.models import Execution, ExecutionEvent, ExecutionStatus, TaskStatus
from flows.models import Trigger
from tests.executions.engine.support import run_named
from tests.factories import AccountFactory, FlowFactory, TriggerFactory

E, T = ExecutionStatus, TaskStatus
R = "\ufffd"

# the source holds the escape, YAML reads it as the character
ECHOES = r"""
name: nul-echo
tasks:
  - name: nul
    type: util.echo
    properties: {value: {"k\u0000": ["a\u0000b", 1, null]}}
  - name: told
    type: util.log
    properties: {message: "said {{ outputs.nul['k\u0000'][0] }}"}
  - name: stop
    type: flow.fail
    properties: {message: "bad\u0000end"}
"""


@pytest.mark.usefixtures("eager")
def test_nul_characters_in_outputs_logs_and_errors_are_stored_replaced(run_flow):
    execution = run_flow(ECHOES)

    assert execution.status == E.FAILED  # ended where the flow says, not stuck RUNNING
    assert execution.error == f"Task 'stop' failed: bad{R}end"
    assert run_named(execution, "nul").status == T.SUCCESS
    assert run_named(execution, "nul").outputs == {f"k{R}": [f"a{R}b", 1, None]}
    told = run_named(execution, "told")
    assert told.status == T.SUCCESS and told.outputs == {"message": f"said a{R}b"}
    logged = ExecutionEvent.objects.filter(execution=execution, task_run=told, type="log").get()
    assert logged.message == f"said a{R}b"
    stored = list(ExecutionEvent.objects.filter(execution=execution).values_list("message", "data"))
    assert "\x00" not in repr(stored)


INPUT_FLOW = r"""
name: nul-input
inputs:
  - {id: name, type: STRING}
tasks:
  - name: hello
    type: util.echo
    properties: {value: "hello {{ inputs.name }}{{ trigger.get('body', {}).get('x', '') }}"}
"""
WEBHOOK_KEY = "n" * 40


@pytest.fixture
def api(eager, namespace, client_for):
    account = AccountFactory(role=Role.ADMIN, default_namespace=namespace)
    flow = FlowFactory(namespace=namespace, source=INPUT_FLOW, created_by=account)
    TriggerFactory(flow=flow, type=Trigger.Type.WEBHOOK, key=WEBHOOK_KEY, inputs={"name": "hook"})
    client = client_for(account)
    client.flow = flow
    return client


def test_a_nul_in_a_string_input_is_stored_replaced_and_the_run_succeeds(api):
    response = api.post(f"/workflowdev/api/v1/flows/{api.flow.pk}/execute", {"name": "x\x00y"}, format="json")

    assert response.status_code == 201, response.content
    execution = Execution.objects.get(flow=api.flow)
    assert execution.inputs == {"name": f"x{R}y"}
    assert execution.status == E.SUCCESS, execution.error
    assert run_named(execution, "hello").outputs == f"hello x{R}y"


def test_a_nul_in_a_webhook_body_is_stored_replaced_and_the_run_succeeds(api):
    response = api.post(f"/api/v1/webhook/{WEBHOOK_KEY}", {"x": "!\x00"}, format="json")

    assert response.status_code == 201, response.content
    execution = Execution.objects.get(flow=api.flow)
    assert execution.trigger_data["body"] == {"x": f"!{R}"}
    assert execution.status == E.SUCCESS
    assert run_named(execution, "hello").outputs == f"hello hook!{R}"


def test_values_without_nul_are_kept_as_the_same_objects():
    value = {"a": ["b", {"c": 1}], "d": ("e",)}
    assert without_nul(value) is value
    assert without_nul({"a": ("\x00",)}) == {"a": (R,)}


PARALLEL = r"""
name: nul-parallel
tasks:
  - name: both
    type: flow.parallel
    tasks:
      - name: left
        type: util.echo
        properties: {value: "l\u0000"}
      - name: right
        type: util.echo
        properties: {value: "r\u0000"}
"""


@pytest.mark.usefixtures("eager")
def test_steps_recorded_outside_the_write_queue_replace_nul_too(run_flow):
    """Parallel branches are not the only active step: their results go by direct writes."""
    execution = run_flow(PARALLEL)

    assert execution.status == E.SUCCESS
    assert run_named(execution, "left").outputs == f"l{R}"
    assert run_named(execution, "right").outputs == f"r{R}"
