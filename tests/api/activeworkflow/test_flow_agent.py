"""A FlowAgent made through the ActiveWorkflow API: its message after the flow ends, and what it refuses."""

import pytest

from executions.models import Execution
from flows.models import Agent
from tests.api.activeworkflow.conftest import assert_error
from tests.factories import AgentFactory, FlowFactory

GREET = """name: greet
inputs:
  - {id: who, type: STRING}
tasks:
  - name: say
    type: util.echo
    properties: {value: "hello {{ inputs.who }}"}
outputs:
  - {id: text, value: "{{ outputs.say }}"}
"""


@pytest.fixture
def eager(settings, transactional_db) -> None:
    settings.MILLRACE_ENGINE_EAGER = True


def test_a_flow_agent_emits_the_result_of_its_flow(eager, client_for, editor, namespace):
    flow = FlowFactory(namespace=namespace, name="greet", source=GREET)
    source = AgentFactory(namespace=namespace, name="names", type="Agents::ManualEventAgent")
    client = client_for(editor)
    body = {
        "name": "greeter",
        "type": "Agents::FlowAgent",
        "namespace": "production",
        "options": {"flow_id": str(flow.pk), "inputs": {"who": "{{ message.name }}"}},
        "sources": [str(source.pk)],
    }
    created = client.post("/api/v1/agents", body, format="json")
    assert created.status_code == 201, created.content
    agent_id = created.json()["id"]
    sent = client.post(f"/api/v1/agents/{source.pk}/messages", {"payload": {"name": "Ada"}}, format="json")
    assert sent.status_code == 201, sent.content
    [execution] = Execution.objects.filter(flow=flow)
    listed = client.get(f"/api/v1/agents/{agent_id}/messages").json()
    assert len(listed) == 1 and listed[0]["agent_id"] == agent_id
    message = client.get(f"/api/v1/messages/{listed[0]['id']}").json()
    assert message["payload"] == {
        "execution_id": str(execution.pk),
        "status": "SUCCESS",
        "outputs": {"text": "hello Ada"},
    }
    assert client.get(f"/api/v1/agents/{agent_id}").json()["messages_count"] == 1


@pytest.mark.django_db
@pytest.mark.parametrize("where", ["elsewhere", "missing", "by-name-elsewhere", "no-flow"])
def test_a_flow_outside_the_namespace_is_refused_at_save(client_for, editor, namespace, other_namespace, where):
    foreign = FlowFactory(namespace=other_namespace, name="greet")
    options = {
        "elsewhere": {"flow_id": str(foreign.pk)},
        "missing": {"flow_id": "00000000-0000-0000-0000-000000000000"},
        "by-name-elsewhere": {"namespace": other_namespace.name, "flow_name": "greet"},
        "no-flow": {"inputs": {}},
    }[where]
    body = {"name": "greeter", "type": "Agents::FlowAgent", "namespace": "production", "options": options}
    assert_error(client_for(editor).post("/api/v1/agents", body, format="json"), 400)
    assert not Agent.objects.filter(name="greeter").exists()


@pytest.mark.django_db
def test_another_namespaces_flow_answers_like_a_missing_one(client_for, editor, namespace, other_namespace):
    foreign = FlowFactory(namespace=other_namespace, name="greet")
    answers = []
    for flow_id in (str(foreign.pk), "00000000-0000-0000-0000-000000000000"):
        body = {"name": "g", "type": "FlowAgent", "namespace": "production", "options": {"flow_id": flow_id}}
        answers.append(
            client_for(editor).post("/api/v1/agents", body, format="json").json()["error"].replace(flow_id, "?")
        )
    assert answers[0] == answers[1]


@pytest.mark.django_db
def test_an_import_checks_the_flow_in_the_target_namespace(client_for, editor, namespace, other_namespace):
    FlowFactory(namespace=namespace, name="greet")
    FlowFactory(namespace=other_namespace, name="only-elsewhere")
    client = client_for(editor)
    agents = [{"name": "g", "type": "Agents::FlowAgent", "options": {"flow_name": "only-elsewhere"}}]
    refused = client.post("/api/v1/workflows/import", {"name": "x", "agents": agents}, format="json")
    assert_error(refused, 400)
    assert "agents[0]" in refused.json()["error"] and "not found" in refused.json()["error"]
    agents[0]["options"] = {"flow_name": "greet"}
    assert client.post("/api/v1/workflows/import", {"name": "y", "agents": agents}, format="json").status_code == 201
    assert list(Agent.objects.values_list("name", flat=True)) == ["g"]
