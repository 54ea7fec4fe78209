"""FlowRunner accounts: shapes against the seed, the role matrix, isolation, pagination."""

import pytest

from accounts.models import Account, AuditEntry
from accounts.roles import Role
from tests.api.flowrunner.test_auth import assert_flowrunner_error
from tests.factories import PASSWORD, AccountFactory, MembershipFactory, NamespaceFactory

pytestmark = pytest.mark.django_db

ACCOUNT_FIELDS = {"id", "name", "email", "role", "created_at", "updated_at"}


def test_list_shape_matches_the_seed(admin_account, client_for):
    AccountFactory.create_batch(3, default_namespace=admin_account.default_namespace)
    response = client_for(admin_account).get("/api/v1/accounts")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"accounts", "total", "limit", "offset"}
    assert body["total"] == 4 and body["limit"] == 10 and body["offset"] == 0
    for item in body["accounts"]:
        assert set(item) == ACCOUNT_FIELDS
        assert item["created_at"].endswith("Z")


def test_pagination_edges_and_role_filter(admin_account, client_for):
    AccountFactory.create_batch(5, role=Role.EDITOR)
    client = client_for(admin_account)
    page = client.get("/api/v1/accounts?limit=2&offset=4").json()
    assert (page["limit"], page["offset"], page["total"], len(page["accounts"])) == (2, 4, 6, 2)
    assert client.get("/api/v1/accounts?offset=100").json()["accounts"] == []
    assert client.get("/api/v1/accounts?limit=5000").json()["limit"] == 1000
    assert_flowrunner_error(client.get("/api/v1/accounts?limit=abc"), 400, "invalid_request")
    assert_flowrunner_error(client.get("/api/v1/accounts?offset=-1"), 400, "invalid_request")
    assert_flowrunner_error(client.get("/api/v1/accounts?limit=0"), 400, "invalid_request")
    editors = client.get("/api/v1/accounts?role=editor").json()
    assert editors["total"] == 5 and {a["role"] for a in editors["accounts"]} == {"editor"}


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EXECUTOR, Role.EDITOR, Role.USER])
def test_non_admins_cannot_list_or_create(make_account, client_for, role):
    client = client_for(make_account(role))
    assert_flowrunner_error(client.get("/api/v1/accounts"), 403, "forbidden")
    response = client.post(
        "/api/v1/accounts",
        {"name": "X", "email": "x@example.com", "password": PASSWORD, "role": "viewer"},
        format="json",
    )
    assert_flowrunner_error(response, 403, "forbidden")
    assert not Account.objects.filter(email="x@example.com").exists()


def test_create_returns_the_seed_shape_and_201(admin_account, client_for):
    body = {"name": "New Account", "email": "new@example.com", "password": PASSWORD, "role": "user"}
    response = client_for(admin_account).post("/api/v1/accounts", body, format="json")
    assert response.status_code == 201
    data = response.json()
    assert set(data) == ACCOUNT_FIELDS
    assert (data["name"], data["email"], data["role"]) == ("New Account", "new@example.com", "user")
    assert "password" not in data
    assert AuditEntry.objects.filter(action="account.create", resource_id=data["id"]).exists()


def test_create_bad_inputs(admin_account, client_for):
    client = client_for(admin_account)
    missing = client.post("/api/v1/accounts", {"name": "No Password", "email": "np@example.com"}, format="json")
    assert_flowrunner_error(missing, 422, "validation_error")
    assert missing.json()["error"]["details"]["field"] == "password"
    wrong_type = client.post("/api/v1/accounts", {"email": ["a"], "password": PASSWORD}, format="json")
    assert_flowrunner_error(wrong_type, 422, "validation_error")
    bad_role = client.post(
        "/api/v1/accounts", {"email": "r@example.com", "password": PASSWORD, "role": "god"}, format="json"
    )
    assert_flowrunner_error(bad_role, 422, "validation_error")
    malformed = client.post("/api/v1/accounts", "{", content_type="application/json")
    assert_flowrunner_error(malformed, 400, "invalid_request")
    client.post("/api/v1/accounts", {"email": "dup@example.com", "password": PASSWORD}, format="json")
    duplicate = client.post("/api/v1/accounts", {"email": "dup@example.com", "password": PASSWORD}, format="json")
    assert_flowrunner_error(duplicate, 409, "conflict")
    assert Account.objects.filter(email="dup@example.com").count() == 1


def test_namespace_admin_manages_only_their_namespace():
    ns_a, ns_b = NamespaceFactory(name="a"), NamespaceFactory(name="b")
    ns_admin = AccountFactory(role=Role.VIEWER, default_namespace=ns_a)
    MembershipFactory(account=ns_admin, namespace=ns_a, role=Role.ADMIN)
    in_a, in_b = AccountFactory(default_namespace=ns_a), AccountFactory(default_namespace=ns_b)
    from rest_framework.test import APIClient

    from tests.conftest import token_for

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(ns_admin)}")
    listed = {a["id"] for a in client.get("/api/v1/accounts").json()["accounts"]}
    assert listed == {str(ns_admin.id), str(in_a.id)}
    assert_flowrunner_error(client.get(f"/api/v1/accounts/{in_b.id}"), 404, "not_found")
    assert_flowrunner_error(
        client.put(f"/api/v1/accounts/{in_b.id}", {"name": "hack"}, format="json"), 404, "not_found"
    )
    assert_flowrunner_error(client.delete(f"/api/v1/accounts/{in_b.id}"), 404, "not_found")
    assert client.put(f"/api/v1/accounts/{in_a.id}", {"name": "Renamed"}, format="json").json()["name"] == "Renamed"
    promote = client.put(f"/api/v1/accounts/{in_a.id}", {"role": "admin"}, format="json")
    assert_flowrunner_error(promote, 403, "forbidden")
    in_a.refresh_from_db()
    assert in_a.role == Role.VIEWER
    created = client.post(
        "/api/v1/accounts", {"email": "c@example.com", "password": PASSWORD, "role": "editor"}, format="json"
    )
    assert created.status_code == 201
    assert Account.objects.get(email="c@example.com").default_namespace == ns_a


def test_everyone_reads_and_updates_self_but_not_own_role(make_account, client_for):
    account = make_account(Role.VIEWER)
    client = client_for(account)
    assert client.get(f"/api/v1/accounts/{account.id}").json()["role"] == "viewer"
    response = client.put(f"/api/v1/accounts/{account.id}", {"name": "Me", "email": "me@example.com"}, format="json")
    assert response.status_code == 200 and response.json()["name"] == "Me"
    assert_flowrunner_error(
        client.put(f"/api/v1/accounts/{account.id}", {"role": "admin"}, format="json"), 403, "forbidden"
    )
    other = make_account(Role.VIEWER)
    assert_flowrunner_error(client.get(f"/api/v1/accounts/{other.id}"), 404, "not_found")


def test_update_validates_and_delete_returns_seed_message(admin_account, client_for):
    victim = AccountFactory(default_namespace=admin_account.default_namespace)
    client = client_for(admin_account)
    assert_flowrunner_error(
        client.put(f"/api/v1/accounts/{victim.id}", {"email": "nope"}, format="json"), 422, "validation_error"
    )
    response = client.put(f"/api/v1/accounts/{victim.id}", {"name": "Updated Account", "role": "admin"}, format="json")
    assert response.status_code == 200 and response.json()["role"] == "admin"
    response = client.delete(f"/api/v1/accounts/{victim.id}")
    assert response.status_code == 200
    assert response.json() == {"message": "Account deleted successfully"}
    assert_flowrunner_error(client.delete(f"/api/v1/accounts/{victim.id}"), 404, "not_found")
    assert_flowrunner_error(client.get("/api/v1/accounts/not-a-uuid"), 404, "not_found")
    assert_flowrunner_error(client.delete(f"/api/v1/accounts/{admin_account.id}"), 403, "forbidden")


def test_method_not_allowed_is_405_in_shape(admin_account, client_for):
    assert_flowrunner_error(
        client_for(admin_account).patch("/api/v1/auth/login", {}, format="json"), 405, "method_not_allowed"
    )


def test_namespace_admin_cannot_reset_the_password_of_another_namespaces_admin(client_for):
    team_a, team_b = NamespaceFactory(name="team-a"), NamespaceFactory(name="team-b")
    a_admin = AccountFactory(role=Role.VIEWER, default_namespace=team_a)
    MembershipFactory(account=a_admin, namespace=team_a, role=Role.ADMIN)
    b_admin = AccountFactory(role=Role.VIEWER, default_namespace=team_a)
    MembershipFactory(account=b_admin, namespace=team_b, role=Role.ADMIN)
    response = client_for(a_admin).put(
        f"/api/v1/accounts/{b_admin.id}", {"password": "taken-over-password"}, format="json"
    )
    assert_flowrunner_error(response, 403, "forbidden")
    b_admin.refresh_from_db()
    assert b_admin.check_password(PASSWORD)
    assert not AuditEntry.objects.filter(action="account.update", resource_id=str(b_admin.id)).exists()
