"""`messages_count` of `GET /api/v1/agents` (and an agent, a workflow's agents) comes from the
agent's stored counter less its expired messages not purged yet: exact, and its cost does not
grow with the messages an agent keeps."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents import runtime
from tests.factories import FlowFactory, MessageFactory

pytestmark = pytest.mark.django_db


def counts(client) -> dict[str, int]:
    return {item["name"]: item["messages_count"] for item in client.get("/api/v1/agents").json()}


def test_expired_messages_not_purged_yet_are_not_counted(client_for, viewer, namespace, pair):
    source, receiver = pair  # three messages of the source
    past = timezone.now() - timedelta(seconds=1)
    MessageFactory(agent=source, expires_at=past)
    MessageFactory(agent=source, expires_at=timezone.now() + timedelta(hours=1))
    MessageFactory(agent=receiver, expires_at=past)
    flow = FlowFactory(namespace=namespace)
    source.flows.add(flow)
    client = client_for(viewer)

    assert counts(client) == {"source": 4, "receiver": 0}
    assert client.get(f"/api/v1/agents/{source.pk}").json()["messages_count"] == 4
    assert [agent["messages_count"] for agent in client.get(f"/api/v1/workflows/{flow.pk}").json()["agents"]] == [4]
    assert runtime.purge_expired() == 2
    assert counts(client) == {"source": 4, "receiver": 0}


def test_the_agents_list_costs_the_same_whatever_the_messages(client_for, viewer, pair):
    source, receiver = pair
    client = client_for(viewer)
    with CaptureQueriesContext(connection) as few:
        assert counts(client) == {"source": 3, "receiver": 0}
    for number in range(40):
        MessageFactory(agent=source, payload={"n": number})
        MessageFactory(agent=receiver, expires_at=timezone.now() - timedelta(seconds=1))
    with CaptureQueriesContext(connection) as many:
        assert counts(client) == {"source": 43, "receiver": 0}

    assert len(many) == len(few)
    (listing,) = [query["sql"] for query in many if 'FROM "flows_agent"' in query["sql"]]
    assert 'JOIN "executions_message"' not in listing  # no join over all of an agent's messages
    assert '"expires_at" <=' in listing  # only the expired ones, found through their index
