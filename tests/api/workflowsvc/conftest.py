"""workflowsvc fixtures: the seed's namespace, a caller in it, definitions and runs to read."""

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import Account, Namespace
from accounts.roles import Role
from flows.models import Flow
from tests.factories import FlowFactory, NamespaceFactory

BASE = "/workflowsvc/api/v1/workflows"
SEED_NS = "first_tchgt1VU"

REST_FLOW = """
name: rest_connector_workflow
tasks:
  - name: REST_CONNECTOR
    type: REST_CONNECTOR
    properties:
      _url: "{{ inputs._url }}"
"""


@pytest.fixture
def seed_ns(db) -> Namespace:
    return NamespaceFactory(name=SEED_NS)


@pytest.fixture
def caller(make_account, seed_ns) -> Account:
    """An executor in the seed's namespace (and nowhere else)."""
    return make_account(Role.EXECUTOR, namespace=seed_ns)


@pytest.fixture
def api(client_for, caller) -> APIClient:
    return client_for(caller)


@pytest.fixture
def make_flow(seed_ns, caller) -> Callable[..., Flow]:
    def make(source: str = REST_FLOW, namespace: Namespace | None = None, **kwargs: Any) -> Flow:
        return FlowFactory(namespace=namespace or seed_ns, source=source, created_by=caller, **kwargs)

    return make


def url(path: str = "", **query: str) -> str:
    """A workflowsvc URL with `nsfilter` defaulting to the seed's namespace."""
    query = {"nsfilter": SEED_NS, **query}
    text = "&".join(f"{key}={value}" for key, value in query.items() if value is not None)
    return f"{BASE}{path}?{text}"


def error_of(response) -> dict[str, Any]:
    """The `_error` object, asserting the dialect's exact error shape."""
    body = response.json()
    assert set(body) == {"_error"} and set(body["_error"]) == {"_code", "_message", "_details"}
    return body["_error"]
