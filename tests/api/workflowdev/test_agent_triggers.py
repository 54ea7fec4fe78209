"""`agent` triggers over workflowdev: create, read, refuse (404 for another namespace's agent), fire."""

import pytest

from accounts.roles import Role
from agents.services import message_create
from executions.models import AgentLog, Execution, Message
from flows.models import Trigger
from tests.api.workflowdev.conftest import API, assert_error
from tests.factories import AgentFactory, MembershipFactory

REPORT = """name: report
inputs:
  - {id: title, type: STRING}
  - {id: score, type: INT, defaults: 0}
tasks:
  - name: note
    type: util.echo
    properties:
      value: "{{ inputs.title }}/{{ inputs.score }}/{{ trigger.message.extra }}/{{ trigger.type }}"
"""


@pytest.fixture
def agent(namespace):
    return AgentFactory(namespace=namespace, name="feed", type="Agents::ManualEventAgent")


def create(api, flow_id: str, **fields):
    return api.post(f"{API}/triggers", {"flowId": flow_id, "type": "agent", **fields}, format="json")


@pytest.mark.django_db
def test_create_read_and_change_an_agent_trigger(api, create_flow, agent):
    flow = create_flow(REPORT)
    response = create(api, flow["id"], agentId=str(agent.pk), inputs={"score": 1})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["agentId"] == str(agent.pk) and body["type"] == "agent" and body["inputs"] == {"score": 1}
    assert not {"key", "cron", "timezone", "sourceFlowId", "statuses"} & set(body)
    assert [t["id"] for t in api.get(f"{API}/triggers?type=agent").json()] == [body["id"]]
    assert api.get(f"{API}/triggers/{body['id']}").json() == body
    changed = api.put(f"{API}/triggers/{body['id']}", {"type": "schedule", "cron": "0 9 * * *"}, format="json")
    assert changed.status_code == 200 and "agentId" not in changed.json()
    assert Trigger.objects.get(pk=body["id"]).source_agent_id is None


@pytest.mark.django_db
def test_a_missing_or_foreign_agent_is_404_and_nothing_is_written(api, editor, create_flow, other_namespace):
    flow = create_flow(REPORT)
    MembershipFactory(account=editor, namespace=other_namespace, role=Role.EDITOR)  # readable, but elsewhere
    foreign = AgentFactory(namespace=other_namespace, name="feed", type="Agents::ManualEventAgent")
    answers = [
        assert_error(create(api, flow["id"], agentId=agent_id), 404, "not_found")["message"]
        for agent_id in (str(foreign.pk), "00000000-0000-0000-0000-000000000000")
    ]
    assert answers[0] == answers[1] == "Agent not found."
    assert_error(create(api, flow["id"]), 422, "validation_error")
    assert_error(create(api, flow["id"], agentId=None), 422, "validation_error")
    assert_error(create(api, flow["id"], agentId="not-a-uuid"), 422, "validation_error")
    assert_error(create(api, flow["id"], agentId=12), 404, "not_found")  # an integer is a UUID to DRF
    assert_error(create(api, flow["id"], agentId=str(foreign.pk), inputs=[1]), 422, "validation_error")
    assert not Trigger.objects.exists()


@pytest.mark.django_db
def test_moving_a_trigger_to_a_foreign_agent_is_404(api, editor, create_flow, agent, other_namespace):
    flow = create_flow(REPORT)
    created = create(api, flow["id"], agentId=str(agent.pk)).json()
    MembershipFactory(account=editor, namespace=other_namespace, role=Role.EDITOR)
    foreign = AgentFactory(namespace=other_namespace, type="Agents::ManualEventAgent")
    moved = api.put(f"{API}/triggers/{created['id']}", {"agentId": str(foreign.pk)}, format="json")
    assert_error(moved, 404, "not_found")
    assert Trigger.objects.get(pk=created["id"]).source_agent_id == agent.pk


@pytest.mark.django_db
def test_viewers_and_executors_cannot_create_agent_triggers(as_role, create_flow, agent):
    flow = create_flow(REPORT)
    for role in (Role.VIEWER, Role.EXECUTOR):
        assert_error(create(as_role(role), flow["id"], agentId=str(agent.pk)), 403, "forbidden")
    assert not Trigger.objects.exists()


def test_each_message_of_the_agent_starts_the_flow(eager, api, editor, create_flow, agent):
    flow = create_flow(REPORT)
    trigger = create(api, flow["id"], agentId=str(agent.pk)).json()
    message = message_create(actor=editor, agent=agent, payload={"title": "alpha", "score": "7", "extra": "x"})
    [execution] = Execution.objects.filter(trigger_id=trigger["id"])
    assert execution.status == "SUCCESS" and execution.origin == "agent"
    assert execution.inputs == {"title": "alpha", "score": 7}  # `extra` names no input: left out
    assert execution.trigger_data["messageId"] == str(message.uuid) and execution.trigger_data["depth"] == 1
    assert execution.task_runs.get(name="note").outputs == "alpha/7/x/agent"


def test_a_refused_start_is_logged_and_the_message_stands(eager, api, editor, create_flow, agent):
    flow = create_flow(REPORT)
    create(api, flow["id"], agentId=str(agent.pk))
    message_create(actor=editor, agent=agent, payload={"title": "beta", "score": "lots"})
    assert Message.objects.filter(agent=agent).count() == 1 and not Execution.objects.exists()
    [line] = AgentLog.objects.filter(agent=agent, level="warning")
    assert "did not start flow 'report'" in line.text and "inputs.score" in line.text
