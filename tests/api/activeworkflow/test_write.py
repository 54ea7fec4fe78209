"""Agent create/update/delete, run now, manual messages, webhooks and workflow import."""

import pytest
from rest_framework.test import APIClient

from accounts.models import AuditEntry
from accounts.roles import Role
from executions.models import Message
from flows.models import Agent, AgentLink, Flow
from tests.api.activeworkflow.conftest import assert_error
from tests.factories import FlowFactory

pytestmark = pytest.mark.django_db


def create(client, **body):
    body.setdefault("name", "watcher")
    body.setdefault("type", "Agents::ManualEventAgent")
    return client.post("/api/v1/agents", body, format="json")


def test_create_agent_with_sources_and_workflows(client_for, editor, namespace, pair):
    source, _ = pair
    flow = FlowFactory(namespace=namespace)
    body = {
        "name": "formatter",
        "type": "Agents::EventFormattingAgent",
        "namespace": "production",
        "options": {"instructions": {"title": "{{ message.n }}"}},
        "sources": [str(source.pk)],
        "workflow_ids": [str(flow.pk)],
        "keep_messages_for": 3600,
    }
    response = client_for(editor).post("/api/v1/agents", body, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert set(created) == {"id", "name", "type", "disabled", "messages_count", "sources"}
    assert created["sources"] == [{"id": str(source.pk)}] and created["messages_count"] == 0
    agent = Agent.objects.get(pk=created["id"])
    assert agent.keep_messages_for == 3600 and list(agent.flows.all()) == [flow]
    # A new link starts after what the source already emitted.
    assert AgentLink.objects.get(receiver=agent).cursor == Message.objects.filter(agent=source).latest("id").id
    assert AuditEntry.objects.filter(action="agent.create", resource_id=str(agent.pk)).exists()


@pytest.mark.parametrize(
    "body",
    [
        {"type": "Agents::NoSuchAgent"},
        {"name": ""},
        {"schedule": "every_3m"},
        {"type": "Agents::TriggerAgent", "options": {"rules": [{"type": "like"}]}},
        {"type": "Agents::TriggerAgent", "options": {"rules": []}, "schedule": "every_1m"},
        {"type": "Agents::PostAgent", "options": {}},
        {"type": "Agents::WebsiteAgent", "options": {"url": "http://x", "extract": {"a": {}}}},
        {"sources": ["not-an-id"]},
        {"workflow_ids": ["00000000-0000-0000-0000-000000000000"]},
        {"keep_messages_for": -1},
        {"options": "nope"},
        {"type": "flow.if"},
    ],
)
def test_bad_bodies_are_400(client_for, editor, body):
    assert_error(create(client_for(editor), **body), 400)


def test_malformed_json_is_400(client_for, editor):
    response = client_for(editor).post("/api/v1/agents", "{nope", content_type="application/json")
    assert_error(response, 400)


def test_sources_of_another_namespace_are_refused(client_for, editor, other_namespace):
    from tests.factories import AgentFactory

    stranger = AgentFactory(namespace=other_namespace)
    assert_error(create(client_for(editor), type="Agents::TriggerAgent", sources=[str(stranger.pk)],
                        options={"rules": [{"type": "regex", "path": "a", "value": "b"}]}), 400)  # fmt: skip


def test_roles(client_for, viewer, executor, editor, pair):
    source, _receiver = pair
    assert_error(create(client_for(viewer)), 403)
    assert_error(create(client_for(executor)), 403)
    assert_error(client_for(viewer).post(f"/api/v1/agents/{source.pk}/messages", {"payload": {}}, format="json"), 403)
    assert_error(client_for(executor).put(f"/api/v1/agents/{source.pk}", {"name": "x"}, format="json"), 403)
    assert_error(client_for(executor).delete(f"/api/v1/agents/{source.pk}"), 403)
    response = client_for(executor).post(f"/api/v1/agents/{source.pk}/messages", {"payload": {"a": 1}}, format="json")
    assert response.status_code == 201
    assert create(client_for(editor)).status_code == 201


def test_update_and_delete(client_for, editor, pair):
    _source, receiver = pair
    client = client_for(editor)
    response = client.put(f"/api/v1/agents/{receiver.pk}", {"name": "renamed", "disabled": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "renamed" and response.json()["disabled"] is True
    receiver.refresh_from_db()
    assert receiver.options["rules"]  # untouched
    assert client.put(f"/api/v1/agents/{receiver.pk}", {"sources": []}, format="json").json()["sources"] == []
    assert_error(client.put(f"/api/v1/agents/{receiver.pk}", {"schedule": "sometimes"}, format="json"), 400)
    assert_error(client.put(f"/api/v1/agents/{receiver.pk}", {"namespace": "elsewhere"}, format="json"), 400)
    assert_error(client.put(f"/api/v1/agents/{receiver.pk}", {"sources": [str(receiver.pk)]}, format="json"), 400)
    assert client.delete(f"/api/v1/agents/{receiver.pk}").status_code == 204
    assert_error(client.get(f"/api/v1/agents/{receiver.pk}"), 404)


def test_manual_message(client_for, executor, pair):
    source, _ = pair
    client = client_for(executor)
    response = client.post(f"/api/v1/agents/{source.pk}/messages", {"payload": {"title": "hi"}}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["payload"] == {"title": "hi"} and body["agent_id"] == str(source.pk)
    assert_error(client.post(f"/api/v1/agents/{source.pk}/messages", {"payload": [1]}, format="json"), 400)
    assert_error(client.post(f"/api/v1/agents/{source.pk}/messages", {}, format="json"), 400)


def test_run_refuses_agents_that_only_receive(client_for, executor, pair):
    _, receiver = pair
    assert_error(client_for(executor).post(f"/api/v1/agents/{receiver.pk}/run"), 400)


def test_webhook_agent_receives_posts_on_its_secret_url(client_for, editor):
    created = create(client_for(editor), name="hook", type="Agents::WebhookAgent",
                     options={"payload_path": "items"}).json()  # fmt: skip
    agent = Agent.objects.get(pk=created["id"])
    secret = agent.options["secret"]
    assert len(secret) >= 16
    response = APIClient().post(
        f"/api/v1/agents/{agent.pk}/webhook/{secret}", {"items": [{"a": 1}, {"a": 2}]}, format="json"
    )
    assert response.status_code == 201, response.content
    assert len(response.json()) == 2
    assert [m.payload for m in Message.objects.filter(agent=agent).order_by("id")] == [{"a": 1}, {"a": 2}]
    assert_error(APIClient().post(f"/api/v1/agents/{agent.pk}/webhook/wrong-secret", {}, format="json"), 404)
    Agent.objects.filter(pk=agent.pk).update(disabled=True)
    assert_error(APIClient().post(f"/api/v1/agents/{agent.pk}/webhook/{secret}", {"items": []}, format="json"), 404)


def test_export_then_import_makes_a_copy(client_for, editor, namespace, pair):
    flow = FlowFactory(namespace=namespace, name="news")
    hook = create(client_for(editor), name="hook", type="Agents::WebhookAgent", workflow_ids=[str(flow.pk)]).json()
    for agent in pair:
        agent.flows.add(flow)
    client = client_for(editor)
    document = client.get(f"/api/v1/workflows/{flow.pk}/export").json()
    assert all("secret" not in agent["options"] for agent in document["agents"])
    assert_error(client.post("/api/v1/workflows/import", document, format="json"), 409)  # the name is taken
    response = client.post("/api/v1/workflows/import", {**document, "name": "news copy"}, format="json")
    assert response.status_code == 201, response.content
    copy = response.json()
    assert copy["name"] == "news copy" and len(copy["agents"]) == 3
    assert {a["id"] for a in copy["agents"]}.isdisjoint({hook["id"], *(str(a.pk) for a in pair)})
    names = {a["name"]: a for a in copy["agents"]}
    assert names["receiver"]["sources"] == [{"id": names["source"]["id"]}]
    new_hook = Agent.objects.get(pk=names["hook"]["id"])
    assert (
        new_hook.options["secret"] and new_hook.options["secret"] != Agent.objects.get(pk=hook["id"]).options["secret"]
    )
    assert Flow.objects.get(pk=copy["id"]).namespace == namespace


def test_import_validation_and_roles(client_for, viewer, editor):
    assert_error(client_for(viewer).post("/api/v1/workflows/import", {"name": "x", "agents": []}, format="json"), 403)
    client = client_for(editor)
    assert_error(client.post("/api/v1/workflows/import", {"name": "x"}, format="json"), 400)
    bad_link = {"name": "x", "agents": [{"name": "a", "type": "Agents::ManualEventAgent"}],
                "links": [{"source": 0, "receiver": 5}]}  # fmt: skip
    assert_error(client.post("/api/v1/workflows/import", bad_link, format="json"), 400)
    bad_agent = {"name": "y", "agents": [{"name": "a", "type": "Agents::Nope"}]}
    assert_error(client.post("/api/v1/workflows/import", bad_agent, format="json"), 400)
    assert not Flow.objects.filter(name__in=["x", "y"]).exists()


def test_options_naming_a_secret_the_saver_lacks_are_refused(client_for, editor, make_account):
    from vault.services import secret_set

    owner = make_account(Role.EDITOR)
    secret_set(actor=owner, name="OWNER_TOKEN", value="owner-only-value", account=owner)
    options = {"instructions": {"auth": "${OWNER_TOKEN}"}}
    created = create(client_for(owner), type="Agents::EventFormattingAgent", options=options)
    assert created.status_code == 201, created.content
    agent_id = created.json()["id"]

    response = client_for(editor).put(
        f"/api/v1/agents/{agent_id}", {"options": {"instructions": {"auth": "${OWNER_TOKEN}", "n": 1}}}, format="json"
    )
    assert_error(response, 400)
    assert "OWNER_TOKEN" in response.json()["error"]
    # renaming is no save of the options: allowed, and the owner's secrets stay the agent's
    assert client_for(editor).put(f"/api/v1/agents/{agent_id}", {"name": "renamed"}, format="json").status_code == 200
    assert Agent.objects.get(pk=agent_id).options_saved_by == owner
