"""The read endpoints against the reference's field lists; auth, 404 and 400 in the dialect's shape."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import api_token_create, api_token_revoke
from executions.models import Message
from tests.api.activeworkflow.conftest import assert_error
from tests.factories import AgentFactory, FlowFactory, MessageFactory

pytestmark = pytest.mark.django_db

AGENT_KEYS = {"id", "name", "type", "disabled", "messages_count", "sources"}
MESSAGE_KEYS = {"id", "agent_id", "created_at", "expires_at"}


def test_agents_list_and_detail_have_the_reference_fields(client_for, viewer, pair):
    source, receiver = pair
    client = client_for(viewer)
    body = client.get("/api/v1/agents").json()
    assert isinstance(body, list) and len(body) == 2
    assert all(set(item) == AGENT_KEYS for item in body)
    by_name = {item["name"]: item for item in body}
    assert by_name["source"]["messages_count"] == 3
    assert by_name["source"]["sources"] == []
    assert by_name["receiver"]["sources"] == [{"id": str(source.pk)}]
    assert by_name["receiver"]["type"] == "Agents::TriggerAgent"
    assert by_name["receiver"]["disabled"] is False
    detail = client.get(f"/api/v1/agents/{receiver.pk}").json()
    assert detail == by_name["receiver"]


def test_messages_newest_first_with_after_and_limit(client_for, viewer, pair):
    source, _ = pair
    client = client_for(viewer)
    messages = client.get(f"/api/v1/agents/{source.pk}/messages").json()
    assert [set(item) for item in messages] == [MESSAGE_KEYS] * 3
    stored = list(Message.objects.filter(agent=source).order_by("-id"))
    assert [item["id"] for item in messages] == [str(m.uuid) for m in stored]
    assert all(item["agent_id"] == str(source.pk) and item["created_at"].endswith("Z") for item in messages)
    assert messages[0]["expires_at"] is None
    assert len(client.get(f"/api/v1/agents/{source.pk}/messages?limit=2").json()) == 2
    Message.objects.filter(pk=stored[-1].pk).update(created_at=timezone.now() - timedelta(days=2))
    after = (timezone.now() - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert len(client.get(f"/api/v1/agents/{source.pk}/messages", {"after": after}).json()) == 2


def test_message_detail_has_payload(client_for, viewer, pair):
    source, _ = pair
    message = Message.objects.filter(agent=source).order_by("id").first()
    body = client_for(viewer).get(f"/api/v1/messages/{message.uuid}").json()
    assert set(body) == MESSAGE_KEYS | {"payload"}
    assert body["payload"] == {"n": 0} and body["id"] == str(message.uuid)


def test_expired_messages_are_not_shown(client_for, viewer, pair):
    source, _ = pair
    message = Message.objects.filter(agent=source).first()
    Message.objects.filter(pk=message.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    client = client_for(viewer)
    assert_error(client.get(f"/api/v1/messages/{message.uuid}"), 404)
    assert client.get(f"/api/v1/agents/{source.pk}").json()["messages_count"] == 2


@pytest.mark.parametrize("query", ["after=yesterday", "limit=abc", "limit=0", "limit=-3"])
def test_bad_parameters_are_400(client_for, viewer, pair, query):
    source, _ = pair
    assert_error(client_for(viewer).get(f"/api/v1/agents/{source.pk}/messages?{query}"), 400)


def test_workflows_list_every_flow_and_detail_lists_agents(client_for, viewer, namespace, pair):
    source, receiver = pair
    with_agents = FlowFactory(namespace=namespace, name="news", description="Daily news")
    source.flows.add(with_agents)
    receiver.flows.add(with_agents)
    FlowFactory(namespace=namespace, name="plain")
    client = client_for(viewer)
    listed = client.get("/api/v1/workflows").json()
    assert {item["name"] for item in listed} == {"news", "plain"}
    assert all(set(item) == {"id", "name", "description"} for item in listed)
    detail = client.get(f"/api/v1/workflows/{with_agents.pk}").json()
    assert set(detail) == {"id", "name", "description", "agents"}
    assert detail["description"] == "Daily news"
    assert [agent["id"] for agent in detail["agents"]] == [str(source.pk), str(receiver.pk)]
    assert all(set(agent) == AGENT_KEYS for agent in detail["agents"])


def test_export_is_a_json_file_download(client_for, viewer, namespace, pair):
    flow = FlowFactory(namespace=namespace, name="News feed")
    for agent in pair:
        agent.flows.add(flow)
    response = client_for(viewer).get(f"/api/v1/workflows/{flow.pk}/export")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == 'attachment; filename="news-feed.json"'
    document = response.json()
    assert document["name"] == "News feed"
    assert [agent["name"] for agent in document["agents"]] == ["source", "receiver"]
    assert document["links"] == [{"source": 0, "receiver": 1}]


def test_unknown_and_other_namespace_ids_are_404(client_for, viewer, other_namespace, pair):
    stranger = AgentFactory(namespace=other_namespace)
    message = MessageFactory(agent=stranger, payload={})
    flow = FlowFactory(namespace=other_namespace)
    client = client_for(viewer)
    for path in (
        f"/api/v1/agents/{stranger.pk}",
        f"/api/v1/agents/{stranger.pk}/messages",
        f"/api/v1/messages/{message.uuid}",
        f"/api/v1/workflows/{flow.pk}",
        f"/api/v1/workflows/{flow.pk}/export",
        "/api/v1/agents/not-a-uuid",
        "/api/v1/messages/00000000-0000-0000-0000-000000000000",
    ):
        assert_error(client.get(path), 404)
    assert {item["id"] for item in client.get("/api/v1/agents").json()} == {str(a.pk) for a in pair}
    assert str(flow.pk) not in {item["id"] for item in client.get("/api/v1/workflows").json()}


@pytest.mark.parametrize("path", ["/api/v1/agents", "/api/v1/workflows", "/api/v1/messages/x"])
def test_no_or_bad_token_is_401(path):
    assert_error(APIClient().get(path), 401)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer nonsense")
    assert_error(client.get(path), 401)


def test_personal_api_tokens_work_until_revoked(viewer, pair):
    token, raw = api_token_create(actor=viewer, account=viewer, name="dashboard")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/agents").status_code == 200
    api_token_revoke(actor=viewer, token=token)
    assert_error(client.get("/api/v1/agents"), 401)
