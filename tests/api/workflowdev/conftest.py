"""workflowdev API fixtures: a client per role in namespace `production`, and the eager engine."""

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from accounts.models import Account
from accounts.roles import Role
from vault.crypto import generate_key

CREDENTIALS_KEY = generate_key()

WD = "/workflowdev/api/v1"  # flows and executions belong at the root to MILLRACE_ROOT_DIALECT (flowrunner here)
API = "/api/v1"  # workflowdev's own trees (triggers, plugins, credentials, kv, approvals, namespaces)

HELLO_YAML = (
    "name: my-workflow\ntasks:\n  - name: hello\n    type: util.log\n    properties:\n      message: Hello world\n"
)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


@pytest.fixture(autouse=True)
def credentials_key(settings) -> None:
    """Credentials are encrypted; production refuses to run without a key."""
    settings.MILLRACE_CREDENTIALS_KEY = CREDENTIALS_KEY


@pytest.fixture
def as_role(make_account, client_for) -> Callable[[str], APIClient]:
    """A client for a fresh account holding `role` in `production`."""

    def make(role: str) -> APIClient:
        return client_for(make_account(role))

    return make


@pytest.fixture
def editor(make_account) -> Account:
    return make_account(Role.EDITOR, username="ed")


@pytest.fixture
def api(editor, client_for) -> APIClient:
    """An editor of `production`."""
    return client_for(editor)


@pytest.fixture
def eager(settings, transactional_db) -> None:
    settings.MILLRACE_ENGINE_EAGER = True


@pytest.fixture
def create_flow(api) -> Callable[..., dict]:
    def create(yaml: str = HELLO_YAML, *, client: APIClient | None = None, **fields) -> dict:
        response = (client or api).post(f"{WD}/flows", {"yamlContent": yaml, **fields}, format="json")
        assert response.status_code == 201, response.content
        return response.json()

    return create
