"""Agents: a literal URL option the network policy refuses is refused when saved (400), not at every run."""

import pytest

from flows.models import Agent
from tests.api.activeworkflow.conftest import assert_error

pytestmark = pytest.mark.django_db

WEBSITE = {"type": "json", "extract": {"title": {"path": "title"}}}


@pytest.mark.parametrize(
    ("agent_type", "options", "words"),
    [
        ("Agents::PostAgent", {"post_url": "file:///etc/passwd"}, "post_url: refused URL scheme 'file'"),
        ("Agents::WebsiteAgent", {**WEBSITE, "url": "gopher://example.com/"}, "url: refused URL scheme 'gopher'"),
        ("Agents::PostAgent", {"post_url": "http://169.254.169.254/latest"}, "cloud metadata address"),
        ("http.request", {"url": "http://0177.0.0.1:8000/admin"}, "loopback address"),
    ],
)
def test_create_refuses_a_literal_url_the_policy_refuses(client_for, editor, agent_type, options, words):
    body = {"name": "out", "type": agent_type, "options": options}
    response = client_for(editor).post("/api/v1/agents", body, format="json")
    assert_error(response, 400)
    assert words in response.json()["error"]
    assert not Agent.objects.exists()


def test_templated_and_public_urls_are_saved_and_updates_are_checked(client_for, editor):
    client = client_for(editor)
    for options in ({"post_url": "{{ message.target }}"}, {"post_url": "https://hooks.example.com/in"}):
        body = {"name": f"post-{len(options['post_url'])}", "type": "Agents::PostAgent", "options": options}
        assert client.post("/api/v1/agents", body, format="json").status_code == 201
    agent = Agent.objects.get(name="post-28")
    refused = client.put(f"/api/v1/agents/{agent.pk}", {"options": {"post_url": "file:///x"}}, format="json")
    assert_error(refused, 400)
    agent.refresh_from_db()
    assert agent.options == {"post_url": "https://hooks.example.com/in"}
