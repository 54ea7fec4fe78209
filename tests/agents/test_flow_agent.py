"""Agents::FlowAgent: a message starts a flow as the agent's owner; the run's end is a message."""

import pytest

from accounts.models import Membership
from accounts.roles import Role
from agents import services
from agents.types import agent_type
from core.errors import ValidationFailed
from executions.models import Execution, ExecutionStatus, Message
from executions.services import execution_cancel
from flows.models import Agent
from tests.factories import AccountFactory, FlowFactory, MembershipFactory
from vault.services import secret_set

E = ExecutionStatus
DOUBLE = """
name: double
inputs:
  - {id: n, type: INT}
tasks:
  - name: calc
    type: util.echo
    properties: {value: "{{ inputs.n * 2 }}"}
outputs:
  - {id: result, type: INT, value: "{{ outputs.calc }}"}
"""
SECRET = """
name: secret-out
tasks:
  - name: calc
    type: util.echo
    properties: {value: "{{ secret('TOKEN') }}"}
outputs:
  - {id: token, value: "{{ outputs.calc }}"}
"""
SLEEPS = "name: sleepy\ntasks:\n  - name: nap\n    type: util.sleep\n    properties: {seconds: 60}\n"
FAILS = "name: fails\ntasks:\n  - name: work\n    type: data.json.parse\n    properties: {text: nope}\n"


@pytest.fixture
def double(namespace):
    return FlowFactory(namespace=namespace, name="double", source=DOUBLE)


@pytest.fixture
def manual(make_agent) -> Agent:
    return make_agent("in", "Agents::ManualEventAgent")


def send(actor, agent: Agent, payload: dict) -> Message:
    return services.message_create(actor=actor, agent=agent, payload=payload)


def emitted(agent: Agent) -> list[dict]:
    return [m.payload for m in Message.objects.filter(agent=agent).order_by("id")]


def test_each_message_starts_the_flow_and_its_end_is_emitted(actor, make_agent, manual, double):
    runner = make_agent(
        "runner",
        "Agents::FlowAgent",
        {"flow_id": str(double.pk), "inputs": {"n": "{{ message.n }}"}},
        sources=(manual,),
    )
    send(actor, manual, {"n": 4})
    send(actor, manual, {"n": 5})
    executions = list(Execution.objects.filter(flow=double).order_by("created_at"))
    assert [(e.status, e.outputs, e.origin, e.created_by_id) for e in executions] == [
        (E.SUCCESS, {"result": 8}, "flow_agent", actor.pk),
        (E.SUCCESS, {"result": 10}, "flow_agent", actor.pk),
    ]
    assert all(e.trigger_data["agentId"] == str(runner.pk) and e.trigger_data["depth"] == 1 for e in executions)
    assert emitted(runner) == [
        {"execution_id": str(e.pk), "status": "SUCCESS", "outputs": e.outputs} for e in executions
    ]
    assert set(Message.objects.filter(agent=runner).values_list("depth", flat=True)) == {1}
    runner.refresh_from_db()
    assert runner.last_error == ""
    texts = list(runner.logs.values_list("text", flat=True))
    assert any(f"execution {executions[0].pk} ended SUCCESS; emitted 1 message" in text for text in texts)


def test_the_flow_by_name_and_the_failed_status(actor, make_agent, manual, namespace):
    FlowFactory(namespace=namespace, name="fails", source=FAILS)
    runner = make_agent("runner", "FlowAgent", {"namespace": namespace.name, "flow_name": "fails"}, sources=(manual,))
    send(actor, manual, {})
    [result] = emitted(runner)
    assert result["status"] == "FAILED" and result["outputs"] in (None, {})


def test_the_emitted_outputs_are_masked_as_stored(actor, make_agent, manual, namespace):
    secret_set(actor=actor, namespace=namespace, name="TOKEN", value="s3cr3t-value")
    flow = FlowFactory(namespace=namespace, name="secret-out", source=SECRET)
    runner = make_agent("runner", "FlowAgent", {"flow_id": str(flow.pk)}, sources=(manual,))
    send(actor, manual, {})
    [result] = emitted(runner)
    assert "s3cr3t-value" not in str(result) and result["status"] == "SUCCESS"


def test_the_flow_must_be_in_the_agents_namespace_when_saved(actor, namespace, other_namespace, double):
    elsewhere = FlowFactory(namespace=other_namespace, name="double")
    for options in (
        {"flow_id": str(elsewhere.pk)},
        {"flow_id": "00000000-0000-0000-0000-000000000000"},
        {"flow_id": "not-a-uuid"},
        {"namespace": other_namespace.name, "flow_name": "double"},
        {"flow_name": "missing"},
        {},
        {"flow_id": str(double.pk), "inputs": [1]},
        {"flow_id": str(double.pk), "extra": 1},
        {"flow_id": 12},
    ):
        with pytest.raises(ValidationFailed) as caught:
            services.agent_create(actor=actor, namespace=namespace, name="r", type="FlowAgent", options=options)
        assert [d["field"] for d in caught.value.details] == ["options"] * len(caught.value.details)
    assert not Agent.objects.filter(name="r").exists()
    messages = set()
    for options in ({"flow_id": str(elsewhere.pk)}, {"flow_id": "00000000-0000-0000-0000-000000000000"}):
        with pytest.raises(ValidationFailed) as caught:
            services.agent_create(actor=actor, namespace=namespace, name="r", type="FlowAgent", options=options)
        messages.add(caught.value.message.replace(options["flow_id"], "<id>"))
    assert len(messages) == 1  # another namespace's flow answers like a missing one


def test_a_templated_flow_is_checked_when_it_runs(actor, make_agent, manual, other_namespace):
    elsewhere = FlowFactory(namespace=other_namespace, name="double", source=DOUBLE)
    runner = make_agent("runner", "FlowAgent", {"flow_id": "{{ message.flow }}"}, sources=(manual,))
    send(actor, manual, {"flow": str(elsewhere.pk)})
    runner.refresh_from_db()
    assert f"Flow '{elsewhere.pk}' not found." in runner.last_error
    assert not Execution.objects.exists() and emitted(runner) == []


def test_the_owner_needs_the_executor_role(actor, make_agent, manual, double, namespace):
    runner = make_agent("runner", "FlowAgent", {"flow_id": str(double.pk)}, sources=(manual,))
    editor_elsewhere = AccountFactory(role=Role.VIEWER)
    MembershipFactory(account=editor_elsewhere, namespace=namespace, role=Role.EDITOR)
    services.agent_update(actor=editor_elsewhere, agent=runner, options={"flow_id": str(double.pk), "inputs": {}})
    Membership.objects.filter(account=editor_elsewhere, namespace=namespace).update(role=Role.VIEWER)
    send(actor, manual, {"n": 1})
    runner.refresh_from_db()
    assert "not started" in runner.last_error and not Execution.objects.exists()
    assert runner.logs.filter(level="error").exists()


def test_inputs_the_flow_refuses_are_a_log_line(actor, make_agent, manual, double):
    runner = make_agent(
        "runner", "FlowAgent", {"flow_id": str(double.pk), "inputs": {"n": "{{ message.n }}"}}, sources=(manual,)
    )
    send(actor, manual, {"n": "many"})
    runner.refresh_from_db()
    assert "Flow 'double' not started" in runner.last_error and "inputs.n" in runner.last_error
    assert not Execution.objects.exists()


def test_the_agent_does_not_run_on_a_schedule():
    handler = agent_type("Agents::FlowAgent")
    assert handler.receives and not handler.schedulable


def test_a_cancelled_run_is_emitted_once_with_its_status(actor, make_agent, manual, namespace):
    flow = FlowFactory(namespace=namespace, name="sleepy", source=SLEEPS)
    runner = make_agent("runner", "FlowAgent", {"flow_name": "sleepy"}, sources=(manual,))
    send(actor, manual, {})
    [execution] = Execution.objects.filter(flow=flow)
    assert not execution.is_terminal and emitted(runner) == []
    execution_cancel(actor=actor, execution=execution)
    assert emitted(runner) == [{"execution_id": str(execution.pk), "status": "CANCELLED", "outputs": None}]
