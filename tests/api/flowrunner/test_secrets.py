"""FlowRunner account secrets: names only, write-only values, who may manage them, and use in a run."""

import pytest

from accounts.roles import Role
from tests.api.flowrunner.conftest import nodes_yaml
from tests.api.flowrunner.test_auth import assert_flowrunner_error
from tests.factories import AccountFactory, NamespaceFactory, SecretFactory
from vault.models import Secret
from vault.selectors import secret_value

pytestmark = pytest.mark.django_db

SECRET_FIELDS = {"key", "created_at", "updated_at"}


def path(account, key: str | None = None, prefix: str = "") -> str:
    base = f"{prefix}/api/v1/accounts/{account.id}/secrets"
    return f"{base}/{key}" if key else base


@pytest.mark.parametrize("prefix", ["", "/flowrunner"])
def test_create_list_delete_in_the_seed_shapes(make_account, client_for, prefix):
    account = make_account(Role.VIEWER)
    client = client_for(account)
    created = client.post(path(account, prefix=prefix), {"key": "NEW_API_KEY", "value": "s3cr3t"}, format="json")
    assert created.status_code == 201, created.content
    assert set(created.json()) == SECRET_FIELDS and created.json()["key"] == "NEW_API_KEY"
    client.post(path(account, prefix=prefix), {"key": "DATABASE_URL", "value": "postgres://x"}, format="json")
    listed = client.get(path(account, prefix=prefix))
    assert listed.status_code == 200
    body = listed.json()
    assert set(body) == {"secrets"}
    assert [s["key"] for s in body["secrets"]] == ["DATABASE_URL", "NEW_API_KEY"]
    assert all(set(s) == SECRET_FIELDS for s in body["secrets"])
    assert "s3cr3t" not in listed.content.decode() and "s3cr3t" not in created.content.decode()
    assert secret_value(name="NEW_API_KEY", namespace_id=None, account_id=account.id) == "s3cr3t"
    deleted = client.delete(path(account, "NEW_API_KEY", prefix=prefix))
    assert deleted.status_code == 200 and deleted.json() == {"message": "Secret deleted successfully"}
    assert list(Secret.objects.filter(account=account).values_list("name", flat=True)) == ["DATABASE_URL"]


def test_errors(make_account, client_for):
    account = make_account()
    client = client_for(account)
    client.post(path(account), {"key": "API_KEY", "value": "one"}, format="json")
    assert_flowrunner_error(
        client.post(path(account), {"key": "API_KEY", "value": "two"}, format="json"), 409, "conflict"
    )
    assert secret_value(name="API_KEY", namespace_id=None, account_id=account.id) == "one"
    bad_key = client.post(path(account), {"key": "9 lives", "value": "x-value"}, format="json")
    assert_flowrunner_error(bad_key, 422, "validation_error")
    assert bad_key.json()["error"]["details"]["field"] == "key"
    assert_flowrunner_error(
        client.post(path(account), {"key": "EMPTY", "value": ""}, format="json"), 422, "validation_error"
    )
    assert_flowrunner_error(client.post(path(account), {"key": "NOVALUE"}, format="json"), 422, "validation_error")
    assert_flowrunner_error(client.post(path(account), "{", content_type="application/json"), 400, "invalid_request")
    assert_flowrunner_error(client.delete(path(account, "MISSING")), 404, "not_found")
    assert_flowrunner_error(client_for(None).get(path(account)), 401, "unauthorized")


def test_other_accounts_see_nothing(make_account, client_for, other_namespace):
    owner = make_account(Role.VIEWER)
    SecretFactory(account=owner, name="MINE", ciphertext=b"x", nonce=b"0" * 12)
    for stranger in (
        make_account(Role.EDITOR),  # same namespace, not an admin
        AccountFactory(role=Role.ADMIN, default_namespace=other_namespace, is_superuser=False, username="x-admin"),
    ):
        if stranger.role == Role.ADMIN:
            stranger.role = Role.EDITOR  # an admin of another namespace only
            stranger.save()
        client = client_for(stranger)
        assert_flowrunner_error(client.get(path(owner)), 404, "not_found")
        assert_flowrunner_error(
            client.post(path(owner), {"key": "K", "value": "v-value"}, format="json"), 404, "not_found"
        )
        assert_flowrunner_error(client.delete(path(owner, "MINE")), 404, "not_found")
    assert_flowrunner_error(client_for(owner).get("/api/v1/accounts/not-a-uuid/secrets"), 404, "not_found")
    assert Secret.objects.filter(account=owner).count() == 1


def test_admins_manage_the_secrets_of_accounts_they_administer(make_account, client_for, admin_account):
    owner = make_account(Role.VIEWER)
    namespace_admin = AccountFactory(role=Role.VIEWER, default_namespace=NamespaceFactory(name="ops"))
    from tests.factories import MembershipFactory

    MembershipFactory(account=namespace_admin, namespace=owner.default_namespace, role=Role.ADMIN)
    for admin in (admin_account, namespace_admin):
        client = client_for(admin)
        key = f"FROM_{admin.username.upper()}"
        assert client.post(path(owner), {"key": key, "value": "v-value"}, format="json").status_code == 201
        assert key in [s["key"] for s in client.get(path(owner)).json()["secrets"]]
        assert client.delete(path(owner, key)).status_code == 200


@pytest.fixture
def eager(settings, transactional_db) -> None:
    settings.MILLRACE_ENGINE_EAGER = True


def test_a_flow_uses_its_owners_secret(eager, make_account, client_for):
    account = make_account(Role.EDITOR)
    client = client_for(account)
    client.post(path(account), {"key": "GREETING", "value": "hush-hush"}, format="json")
    definition = nodes_yaml("Secretive").replace("Hello {{ inputs.get('who', 'world') }}", "Say ${GREETING}")
    created = client.post("/api/v1/flows", {"definition": definition}, format="json")
    assert created.status_code == 201, created.content
    run = client.post(f"/api/v1/flows/{created.json()['id']}/run", {}, format="json").json()
    logs = client.get(f"/api/v1/executions/{run['execution_id']}/logs?limit=100")
    assert logs.status_code == 200
    assert "hush-hush" not in logs.content.decode()
    assert any(entry["message"] == "Say ******" for entry in logs.json()["logs"])
