"""workflowdev /auth/register (bootstrap and admin rules) and /auth/login."""

import pytest
from rest_framework.test import APIClient

from accounts.models import Account
from accounts.roles import Role
from tests.factories import PASSWORD, AccountFactory, MembershipFactory, NamespaceFactory

pytestmark = pytest.mark.django_db


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize("prefix", ["", "/workflowdev"])
def test_register_is_open_only_for_the_first_account(prefix):
    client = APIClient()
    first = client.post(
        f"{prefix}/auth/register", {"username": "admin", "password": PASSWORD, "role": "admin"}, format="json"
    )
    assert first.status_code == 201
    body = first.json()
    assert body["username"] == "admin" and body["role"] == "admin" and body["namespace"] == "default"
    second = client.post(
        f"{prefix}/auth/register", {"username": "eve", "password": PASSWORD, "role": "admin"}, format="json"
    )
    assert_error(second, 403, "forbidden")
    assert not Account.objects.filter(username="eve").exists()


def test_admin_registers_accounts_up_to_their_own_role(client_for):
    ns = NamespaceFactory()
    ns_admin = AccountFactory(role=Role.VIEWER, default_namespace=ns)
    MembershipFactory(account=ns_admin, namespace=ns, role=Role.ADMIN)
    client = client_for(ns_admin)
    ok = client.post("/auth/register", {"username": "op", "password": PASSWORD, "role": "executor"}, format="json")
    assert ok.status_code == 201 and ok.json()["namespace"] == ns.name
    above = client.post("/auth/register", {"username": "boss", "password": PASSWORD, "role": "admin"}, format="json")
    assert_error(above, 403, "forbidden")


def test_non_admin_cannot_register(make_account, client_for):
    client = client_for(make_account(Role.EDITOR))
    response = client.post("/auth/register", {"username": "x", "password": PASSWORD}, format="json")
    assert_error(response, 403, "forbidden")


def test_register_bad_input(client_for, admin_account):
    client = client_for(admin_account)
    assert_error(client.post("/auth/register", {"username": "x"}, format="json"), 422, "validation_error")
    assert_error(
        client.post("/auth/register", {"username": "x", "password": PASSWORD, "role": "root"}, format="json"),
        422,
        "validation_error",
    )
    assert_error(client.post("/auth/register", "[]", content_type="application/json"), 422, "validation_error")
    assert_error(client.post("/auth/register", "{{", content_type="application/json"), 400, "invalid_request")
    created = client.post(
        "/auth/register", {"username": "x", "password": PASSWORD, "namespace": "fresh"}, format="json"
    )
    assert created.status_code == 201 and created.json()["namespace"] == "fresh"


def test_namespace_admin_naming_unknown_namespace_is_404(client_for):
    ns = NamespaceFactory()
    ns_admin = AccountFactory(role=Role.VIEWER, default_namespace=ns)
    MembershipFactory(account=ns_admin, namespace=ns, role=Role.ADMIN)
    response = client_for(ns_admin).post(
        "/auth/register", {"username": "x", "password": PASSWORD, "namespace": "unknown"}, format="json"
    )
    assert_error(response, 404, "not_found")


def test_login_refresh_logout(make_account):
    account = make_account(username="dev")
    client = APIClient()
    response = client.post("/auth/login", {"username": "dev", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert {"token", "expiresAt", "accountId"} <= set(body)
    assert body["accountId"] == str(account.id)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert client.post("/auth/refresh").status_code == 200
    assert client.post("/auth/logout").status_code == 200
    assert_error(client.post("/auth/refresh"), 401, "unauthorized")
    assert_error(
        APIClient().post("/auth/login", {"username": "dev", "password": "nope"}, format="json"), 401, "unauthorized"
    )


def test_no_dialect_imports_another_dialect():
    """Dialects are thin and independent (ARCHITECTURE.md); shared request helpers live in `api/`."""
    import ast
    from pathlib import Path

    import api

    root = Path(api.__file__).parent
    dialects = {path.name for path in root.iterdir() if (path / "__init__.py").exists()}
    crossings = []
    for dialect in sorted(dialects):
        for source in (root / dialect).rglob("*.py"):
            for node in ast.walk(ast.parse(source.read_text())):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
                parts = [name.split(".") for name in names]
                crossings += [
                    f"{source.relative_to(root)} imports {'.'.join(part)}"
                    for part in parts
                    if part[0] == "api" and len(part) > 1 and part[1] in dialects - {dialect}
                ]
    assert crossings == []


def test_refresh_and_logout_share_the_neutral_session_token_helper():
    from api.auth import session_token
    from api.flowrunner.views import auth as flowrunner_auth
    from api.workflowdev.views import auth as workflowdev_auth

    assert flowrunner_auth.session_token is session_token is workflowdev_auth.session_token
