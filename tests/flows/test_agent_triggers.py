"""Agent triggers in the trigger services and their firing: same namespace only, once per message, bounded."""

import pytest

from accounts.roles import Role
from core.errors import BadRequest, NotFound, ValidationFailed
from executions.models import Execution
from executions.triggers import agent_fire
from flows.models import Trigger
from flows.transfer import flow_export
from flows.triggers import trigger_create, trigger_update
from tests.factories import AgentFactory, FlowFactory, MessageFactory

FLOW = """name: takes
inputs:
  - {id: n, type: INT, defaults: 0}
tasks:
  - name: a
    type: util.echo
    properties: {value: "{{ inputs.n }}"}
"""


@pytest.fixture
def eager(settings, transactional_db) -> None:
    settings.MILLRACE_ENGINE_EAGER = True


@pytest.fixture
def editor(make_account):
    return make_account(Role.EDITOR)


@pytest.fixture
def flow(namespace):
    return FlowFactory(namespace=namespace, name="takes", source=FLOW)


@pytest.fixture
def agent(namespace):
    return AgentFactory(namespace=namespace, type="Agents::ManualEventAgent")


@pytest.mark.django_db
def test_an_agent_trigger_needs_an_agent_of_the_flows_namespace(editor, flow, agent, other_namespace):
    foreign = AgentFactory(namespace=other_namespace, type="Agents::ManualEventAgent")
    for agent_id in (str(foreign.pk), "not-an-id", "00000000-0000-0000-0000-000000000000"):
        with pytest.raises(NotFound):
            trigger_create(actor=editor, flow=flow, type="agent", source_agent_id=agent_id)
    with pytest.raises(ValidationFailed):
        trigger_create(actor=editor, flow=flow, type="agent")
    assert not Trigger.objects.exists()
    trigger = trigger_create(actor=editor, flow=flow, type="agent", source_agent_id=str(agent.pk))
    assert (trigger.source_agent_id, trigger.key, trigger.cron, trigger.next_fire_at) == (agent.pk, None, "", None)
    webhook = trigger_update(actor=editor, trigger=trigger, type="webhook")
    assert webhook.source_agent_id is None and webhook.key


@pytest.mark.django_db
def test_deleting_the_agent_deletes_its_triggers(editor, flow, agent):
    trigger_create(actor=editor, flow=flow, type="agent", source_agent_id=str(agent.pk))
    agent.delete()
    assert not Trigger.objects.exists() and flow.pk


def test_a_message_starts_the_flow_once(eager, editor, flow, agent):
    trigger = trigger_create(actor=editor, flow=flow, type="agent", source_agent_id=str(agent.pk), inputs={"n": 1})
    message = MessageFactory(agent=agent, payload={"n": "5", "other": True})
    first = agent_fire(trigger=trigger, message=message)
    assert first.inputs == {"n": 5} and first.trigger_data["message"] == {"n": "5", "other": True}
    assert agent_fire(trigger=trigger, message=message) is None  # a task delivered twice starts nothing twice
    plain = MessageFactory(agent=agent, payload={"other": 1})
    assert agent_fire(trigger=trigger, message=plain).inputs == {"n": 1}  # the trigger's own inputs
    assert Execution.objects.filter(trigger=trigger).count() == 2


def test_refused_starts_write_nothing(eager, settings, editor, flow, agent):
    settings.MILLRACE_SUBFLOW_MAX_DEPTH = 2
    trigger = trigger_create(actor=editor, flow=flow, type="agent", source_agent_id=str(agent.pk))
    with pytest.raises(ValidationFailed, match="depth 3 exceeds"):
        agent_fire(trigger=trigger, message=MessageFactory(agent=agent, depth=2))
    with pytest.raises(ValidationFailed, match="declared inputs"):
        agent_fire(trigger=trigger, message=MessageFactory(agent=agent, payload={"n": "x"}))
    deep: dict = {}
    for _ in range(70):  # past the 64 levels a start takes
        deep = {"d": deep}
    with pytest.raises(BadRequest, match="nest"):
        agent_fire(trigger=trigger, message=MessageFactory(agent=agent, payload=deep))
    assert not Execution.objects.exists()


@pytest.mark.django_db
def test_a_flows_export_leaves_agent_triggers_out(editor, flow, agent):
    trigger_create(actor=editor, flow=flow, type="agent", source_agent_id=str(agent.pk))
    trigger_create(actor=editor, flow=flow, type="schedule", cron="0 9 * * *")
    assert [item["type"] for item in flow_export(flow)["triggers"]] == ["schedule"]
