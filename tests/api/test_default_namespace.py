"""Accounts without a default namespace (issue 16): an admin made by Django's `createsuperuser`
uses every dialect; accounts that still have none fall back to the `default` namespace."""

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts.models import DEFAULT_NAMESPACE, Account, Namespace
from accounts.roles import Role
from flows.models import Agent, Flow
from tests.conftest import token_for
from tests.factories import PASSWORD, SIMPLE_TASKS_YAML, AccountFactory, NamespaceFactory

pytestmark = pytest.mark.django_db


def client(account: Account) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(account)}")
    return api


@pytest.fixture
def createsuperuser(monkeypatch) -> Account:
    """The way Django users make an admin (no namespace is named)."""
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    call_command("createsuperuser", interactive=False, username="root", email="root@example.com", verbosity=0)
    return Account.objects.get(username="root")


@pytest.fixture
def homeless_admin() -> Account:
    """A superuser made before every path gave one a namespace (or whose namespace was deleted)."""
    return AccountFactory(username="old-root", default_namespace=None, is_superuser=True)


@pytest.fixture(params=["createsuperuser", "homeless_admin"])
def admin(request) -> Account:
    return request.getfixturevalue(request.param)


def test_createsuperuser_gives_the_default_namespace_and_the_admin_role(createsuperuser):
    assert createsuperuser.default_namespace.name == DEFAULT_NAMESPACE
    assert createsuperuser.role == Role.ADMIN and createsuperuser.is_superuser


def test_flowrunner_login_flows_and_accounts(admin):
    login = APIClient().post("/api/v1/auth/login", {"username": admin.username, "password": PASSWORD}, format="json")
    assert login.status_code == 200, login.content
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {login.json()['token']}")
    response = api.post("/api/v1/flows", {"definition": SIMPLE_TASKS_YAML.format(name="hello")}, format="json")
    assert response.status_code == 201, response.content
    assert Flow.objects.get(pk=response.json()["id"]).namespace.name == DEFAULT_NAMESPACE
    body = {"username": "newcomer", "email": "n@example.com", "password": PASSWORD, "role": "editor"}
    response = api.post("/api/v1/accounts", body, format="json")
    assert response.status_code == 201, response.content
    assert Account.objects.get(username="newcomer").default_namespace.name == DEFAULT_NAMESPACE
    run = api.post(f"/api/v1/flows/{Flow.objects.get(name='hello').pk}/run", {}, format="json")
    assert run.status_code in (200, 201, 202), run.content


def test_workflowdev_register_flows_and_credentials(admin):
    api = client(admin)
    response = api.post("/auth/register", {"username": "dev", "password": PASSWORD, "role": "editor"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["namespace"] == DEFAULT_NAMESPACE
    yaml = SIMPLE_TASKS_YAML.format(name="hello")
    response = api.post("/workflowdev/api/v1/flows", {"yamlContent": yaml}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["namespace"] == DEFAULT_NAMESPACE
    response = api.post("/workflowdev/api/v1/credentials", {"name": "TOKEN", "value": "s3cret"}, format="json")
    assert response.status_code == 201, response.content


def test_activeworkflow_creates(admin):
    api = client(admin)
    body = {"name": "watcher", "type": "Agents::ManualEventAgent"}
    response = api.post("/api/v1/agents", body, format="json")
    assert response.status_code == 201, response.content
    assert Agent.objects.get(pk=response.json()["id"]).namespace.name == DEFAULT_NAMESPACE
    response = api.post("/api/v1/workflows/import", {"name": "imported", "agents": []}, format="json")
    assert response.status_code == 201, response.content


def test_the_default_namespace_is_created_when_missing(homeless_admin):
    assert not Namespace.objects.filter(name=DEFAULT_NAMESPACE).exists()
    response = client(homeless_admin).post(
        "/api/v1/flows", {"definition": SIMPLE_TASKS_YAML.format(name="hello")}, format="json"
    )
    assert response.status_code == 201, response.content
    assert Namespace.objects.filter(name=DEFAULT_NAMESPACE).exists()


def test_a_member_without_a_namespace_falls_back_only_where_it_holds_a_role():
    editor = AccountFactory(role=Role.EDITOR, default_namespace=None)
    body = {"definition": SIMPLE_TASKS_YAML.format(name="hello")}
    response = client(editor).post("/api/v1/flows", body, format="json")
    assert response.status_code == 422 and response.json()["error"]["code"] == "validation_error"
    assert not Namespace.objects.filter(name=DEFAULT_NAMESPACE).exists()  # not created for a non-admin
    NamespaceFactory(name=DEFAULT_NAMESPACE)
    assert client(editor).post("/api/v1/flows", body, format="json").status_code == 404  # no role there
