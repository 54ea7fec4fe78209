"""ActiveWorkflow API fixtures: accounts of each role in `production`, agents with messages."""

from collections.abc import Callable

import pytest

from accounts.roles import Role
from flows.models import Agent
from tests.factories import AgentFactory, AgentLinkFactory, MessageFactory


def assert_error(response, status: int) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]


@pytest.fixture
def viewer(make_account):
    return make_account(Role.VIEWER)


@pytest.fixture
def editor(make_account):
    return make_account(Role.EDITOR)


@pytest.fixture
def executor(make_account):
    return make_account(Role.EXECUTOR)


@pytest.fixture
def make_agent(namespace) -> Callable[..., Agent]:
    def make(**kwargs) -> Agent:
        kwargs.setdefault("namespace", namespace)
        return AgentFactory(**kwargs)

    return make


@pytest.fixture
def pair(make_agent) -> tuple[Agent, Agent]:
    """A ManualEventAgent with three messages, and a TriggerAgent receiving from it."""
    source = make_agent(name="source", type="Agents::ManualEventAgent")
    receiver = make_agent(
        name="receiver",
        type="Agents::TriggerAgent",
        options={"rules": [{"type": "regex", "path": "title", "value": "x"}]},
    )
    AgentLinkFactory(source=source, receiver=receiver)
    for number in range(3):
        MessageFactory(agent=source, payload={"n": number})
    return source, receiver
