"""Operator tools: the admin's "run now" and "send a manual message" actions, `import_workflow`,
run now through the API, and a plugin id as an agent type."""

import json

from django.core.management import call_command
from django.test import Client

from accounts.roles import Role
from agents import exchange
from executions.models import Message
from flows.models import Agent, AgentLink, Flow
from tests.factories import AccountFactory, FlowFactory


def _console(account) -> Client:
    client = Client()
    client.force_login(account)
    return client


def test_admin_actions_run_now_and_send_a_message(make_agent, namespace):
    operator = AccountFactory(role=Role.EXECUTOR, default_namespace=namespace)
    echo = make_agent("echo", "util.echo", {"value": {"hello": "{{ agent.name }}"}}, schedule="never")
    manual = make_agent("manual", "Agents::ManualEventAgent")
    client = _console(operator)
    url = "/admin/flows/agent/"
    response = client.post(url, {"action": "run_now", "_selected_action": [str(echo.pk)], "payload": ""})
    assert response.status_code == 302
    assert [m.payload for m in Message.objects.filter(agent=echo)] == [{"hello": "echo"}]
    body = {"action": "send_manual_message", "_selected_action": [str(manual.pk)], "payload": '{"a": 1}'}
    assert client.post(url, body).status_code == 302
    assert [m.payload for m in Message.objects.filter(agent=manual)] == [{"a": 1}]
    viewer = AccountFactory(role=Role.VIEWER, default_namespace=namespace)
    _console(viewer).post(url, {**body, "payload": '{"b": 2}'})
    assert Message.objects.filter(agent=manual).count() == 1  # the action is not offered to a viewer


def test_import_workflow_command(make_agent, namespace, actor, tmp_path, capsys):
    flow = FlowFactory(namespace=namespace, name="original")
    source = make_agent("source", "Agents::ManualEventAgent", workflow_ids=[str(flow.pk)])
    make_agent("sink", "Agents::EventFormattingAgent", {"instructions": {"x": "1"}}, sources=(source,),
               workflow_ids=[str(flow.pk)])  # fmt: skip
    path = tmp_path / "original.json"
    path.write_text(json.dumps(exchange.export_document(flow)))
    call_command("import_workflow", str(path), "--namespace", namespace.name, "--as", actor.username, "--name", "copy")
    copy = Flow.objects.get(namespace=namespace, name="copy")
    agents = {agent.name: agent for agent in copy.agents.all()}
    assert set(agents) == {"source", "sink"}
    assert AgentLink.objects.filter(source=agents["source"], receiver=agents["sink"]).exists()
    assert "Imported workflow 'copy'" in capsys.readouterr().out


def test_run_now_through_the_api_runs_a_plugin_agent(make_agent, namespace, client_for):
    executor = AccountFactory(role=Role.EXECUTOR, default_namespace=namespace)
    agent = make_agent("echo", "util.echo", {"value": 42})
    response = client_for(executor).post(f"/api/v1/agents/{agent.pk}/run")
    assert response.status_code == 200
    assert response.json()["messages_count"] == 1  # eager dispatch: the run happened on commit
    agent = Agent.objects.get(pk=agent.pk)
    assert agent.last_run_at is not None and agent.last_error == ""
    assert [m.payload for m in Message.objects.filter(agent=agent)] == [{"result": 42}]  # non-object output, wrapped
