"""Agents: a sql.query or mail.send agent's literal database URL or SMTP host the network policy
refuses is refused when saved (400, nothing saved, no password), as a literal URL option is."""

import pytest

from flows.models import Agent
from tests.api.activeworkflow.conftest import assert_error

pytestmark = pytest.mark.django_db

PASSWORD = "Aw-Pass-51c2e8"
QUERY = {"sql": "SELECT 1"}
MAIL = {"to": ["ops@example.com"], "text": "hi"}


@pytest.mark.parametrize(
    ("agent_type", "options", "words"),
    [
        ("sql.query", {**QUERY, "url": f"postgresql://u:{PASSWORD}@10.0.0.5/db"}, "url: refused host '10.0.0.5'"),
        ("io.kestra.plugin.jdbc.mysql.Query", {**QUERY, "url": f"mysql://u:{PASSWORD}@127.0.0.1/db"}, "loopback"),
        ("sql.query", {**QUERY, "url": f"redis://u:{PASSWORD}@db.example.com/0"}, "unsupported database URL scheme"),
        ("mail.send", {**MAIL, "host": "127.0.0.1"}, "host: refused host '127.0.0.1': a loopback address"),
        ("mail.send", {**MAIL, "host": "/var/run/smtp.sock"}, "is not a host name or IP address"),
    ],
)
def test_create_refuses_a_literal_server_the_policy_refuses(client_for, editor, agent_type, options, words):
    body = {"name": "out", "type": agent_type, "options": options}
    response = client_for(editor).post("/api/v1/agents", body, format="json")
    assert_error(response, 400)
    assert words in response.json()["error"]
    assert PASSWORD not in response.content.decode()
    assert not Agent.objects.exists()


def test_templated_and_public_servers_are_saved_and_updates_are_checked(client_for, editor):
    client = client_for(editor)
    for name, options in (
        ("templated", {**MAIL, "host": "{{ message.smtp }}"}),
        ("public", {**MAIL, "host": "smtp.example.com"}),
    ):
        body = {"name": name, "type": "mail.send", "options": options}
        assert client.post("/api/v1/agents", body, format="json").status_code == 201
    agent = Agent.objects.get(name="public")
    refused = client.put(f"/api/v1/agents/{agent.pk}", {"options": {**MAIL, "host": "10.1.1.1"}}, format="json")
    assert_error(refused, 400)
    agent.refresh_from_db()
    assert agent.options["host"] == "smtp.example.com"


def test_allowed_networks_let_the_same_servers_be_saved(client_for, editor, settings):
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["10.0.0.0/8", "127.0.0.0/8"]
    client = client_for(editor)
    query = {"name": "db", "type": "sql.query", "options": {**QUERY, "url": "postgresql://u@10.0.0.5/db"}}
    mail = {"name": "mail", "type": "mail.send", "options": {**MAIL, "host": "127.0.0.1"}}
    assert client.post("/api/v1/agents", query, format="json").status_code == 201
    assert client.post("/api/v1/agents", mail, format="json").status_code == 201
    assert Agent.objects.count() == 2
