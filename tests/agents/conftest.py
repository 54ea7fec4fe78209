"""Agent runtime tests run the real runtime in this process (eager dispatch) on a transactional database."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import transaction
from pytest_httpserver import HTTPServer

from accounts.models import Account
from accounts.roles import Role
from agents import runtime, services
from flows.models import Agent
from tests.factories import AccountFactory

T0 = datetime(2030, 1, 7, 9, 0, 0, tzinfo=UTC)


def emit(agent: Agent, payloads: list[dict[str, Any]], **kwargs: Any) -> None:
    """`runtime.emit` in a transaction, as its callers call it (it locks the agent's row)."""
    with transaction.atomic():
        runtime.emit(agent, payloads, **kwargs)


@pytest.fixture
def eager(settings, transactional_db) -> None:
    settings.MILLRACE_ENGINE_EAGER = True
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]


@pytest.fixture
def actor(eager, namespace) -> Account:
    return AccountFactory(role=Role.EDITOR, default_namespace=namespace)


@pytest.fixture
def make_agent(actor, namespace) -> Callable[..., Agent]:
    """Create an agent through the service, as the API does."""

    def make(name: str, type: str, options: dict | None = None, *, sources: tuple[Agent, ...] = (), **kw) -> Agent:
        return services.agent_create(
            actor=actor, namespace=namespace, name=name, type=type, options=options or {},
            source_ids=[str(source.pk) for source in sources], **kw,
        )  # fmt: skip

    return make


@pytest.fixture
def second_server() -> Iterator[HTTPServer]:
    """Another local HTTP server, for the PostAgent's deliveries."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()
