"""An agent's page and list show its last error as text with its time apart, and a receiving
agent that failed is never said to have run "never"."""

import re

import pytest

from accounts.roles import Role
from agents.errors import agent_error, last_run
from tests.admin.helpers import change_url
from tests.factories import AccountFactory, AgentFactory, AgentLogFactory, NamespaceFactory

STAMPED = "2026-12-07T04:17:33.934336+00:00 Cannot resolve host 'feeds.example.com'"


@pytest.fixture
def editor(db):
    space = NamespaceFactory(name="space-agents")
    return AccountFactory(username="agent-editor", role=Role.EDITOR, default_namespace=space)


def text_of(page: str, css_class: str) -> str:
    match = re.search(rf'class="[^"]*{css_class}[^"]*">(.*?)</p>', page, re.S)
    assert match is not None, css_class
    return re.sub(r"\s+", " ", match.group(1)).strip()


def test_a_receiving_agent_that_failed_shows_when_it_ran(client, editor):
    agent = AgentFactory(namespace=editor.default_namespace, name="receiver", last_error=STAMPED, last_run_at=None)
    client.force_login(editor)
    page = client.get(change_url(agent)).content.decode()
    error = text_of(page, "agent-last-error")
    assert error == "Last error (2026-12-07 04:17:33): Cannot resolve host &#x27;feeds.example.com&#x27;"
    assert text_of(page, "agent-last-run").endswith("last run 2026-12-07 04:17:33.")
    assert "never" not in text_of(page, "agent-last-run")
    assert "2026-12-07T04:17:33" not in page  # nowhere raw, the read-only field included


def test_the_newest_log_line_counts_as_a_run(client, editor):
    agent = AgentFactory(namespace=editor.default_namespace, name="quiet", last_run_at=None)
    line = AgentLogFactory(agent=agent, text="Received a message")
    client.force_login(editor)
    page = client.get(change_url(agent)).content.decode()
    assert text_of(page, "agent-last-run").endswith(f"last run {line.created_at:%Y-%m-%d %H:%M:%S}.")


def test_an_agent_that_never_ran_says_so(client, editor):
    agent = AgentFactory(namespace=editor.default_namespace, name="new", last_run_at=None)
    client.force_login(editor)
    assert text_of(client.get(change_url(agent)).content.decode(), "agent-last-run").endswith("last run never.")


@pytest.mark.parametrize(
    ("stored", "text", "stamped"),
    [
        (STAMPED, "Cannot resolve host 'feeds.example.com'", True),
        ("2026-12-07T04:17:33Z HTTP 404", "HTTP 404", True),
        ("HTTP 404 at 2026-12-07T04:17:33", "HTTP 404 at 2026-12-07T04:17:33", False),
        ("2026-13-45T99:99:99 odd", "2026-13-45T99:99:99 odd", False),
        ("", "", False),
    ],
)
def test_agent_error_splits_only_a_leading_time(stored, text, stamped):
    found = agent_error(stored)
    assert found.text == text and (found.at is not None) == stamped


def test_last_run_is_the_latest_known_moment():
    first, second = agent_error(STAMPED).at, agent_error("2026-12-08T00:00:00+00:00 x").at
    assert last_run(None, first, second) == second and last_run(None, None) is None
