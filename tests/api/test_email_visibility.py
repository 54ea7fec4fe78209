"""A namespace admin sees members' usernames and roles, never their e-mail (issue 16, item 18);
global admins and the account itself still see it. The shapes stay: `email` is null."""

import pytest
from django.test import Client

from accounts.models import AuditEntry
from accounts.roles import Role
from tests.factories import PASSWORD, AccountFactory, MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ns_admin(namespace, make_account):
    """Admin of `production` by membership (not a global admin)."""
    account = make_account(Role.VIEWER, username="ns-admin")
    MembershipFactory(account=account, namespace=namespace, role=Role.ADMIN)
    return account


@pytest.fixture
def member(namespace):
    """An account from elsewhere, added to the namespace admin's namespace."""
    account = AccountFactory(username="stranger", email="stranger@example.com")
    MembershipFactory(account=account, namespace=namespace, role=Role.VIEWER)
    return account


def test_flowrunner_accounts_hide_members_email_from_a_namespace_admin(client_for, make_account, ns_admin, member):
    client = client_for(ns_admin)
    listed = {row["id"]: row for row in client.get("/api/v1/accounts?limit=100").json()["accounts"]}
    assert set(listed[str(member.id)]) == {"id", "name", "email", "role", "created_at", "updated_at"}
    assert listed[str(member.id)]["email"] is None
    assert listed[str(ns_admin.id)]["email"] == ns_admin.email  # their own
    assert client.get(f"/api/v1/accounts/{member.id}").json()["email"] is None
    local = make_account(Role.VIEWER, username="local")  # administered by the namespace admin
    updated = client.patch(f"/api/v1/accounts/{local.id}", {"name": "L"}, format="json")
    assert updated.status_code == 200 and updated.json()["email"] is None
    body = {"username": "new", "email": "new@example.com", "password": PASSWORD, "role": "viewer"}
    created = client.post("/api/v1/accounts", body, format="json")
    assert created.status_code == 201 and created.json()["email"] is None


def test_global_admins_and_the_account_itself_see_the_email(client_for, admin_account, member):
    assert client_for(admin_account).get(f"/api/v1/accounts/{member.id}").json()["email"] == member.email
    assert client_for(member).get(f"/api/v1/accounts/{member.id}").json()["email"] == member.email


def test_workflowdev_register_and_members_never_show_it_to_a_namespace_admin(client_for, ns_admin, member):
    client = client_for(ns_admin)
    body = {"username": "dev", "email": "dev@example.com", "password": PASSWORD, "role": "viewer"}
    registered = client.post("/auth/register", body, format="json")
    assert registered.status_code == 201 and registered.json()["email"] is None
    members = client.get("/workflowdev/api/v1/namespaces/production/members").json()
    assert {"accountId", "username", "role", "source"} == set(members[0])
    assert "stranger@example.com" not in str(members)


def test_the_audit_log_does_not_keep_email_addresses(client_for, member):
    response = client_for(member).patch(f"/api/v1/accounts/{member.id}", {"email": "moved@example.com"}, format="json")
    assert response.status_code == 200, response.content
    entry = AuditEntry.objects.get(action="account.update", resource_id=str(member.id))
    assert entry.summary["email"] == "changed"
    assert "example.com" not in str(entry.summary)


def test_the_console_hides_members_email_from_a_namespace_admin(ns_admin, member):
    console = Client()
    console.force_login(ns_admin)
    listing = console.get("/admin/accounts/account/")
    assert listing.status_code == 200 and b"stranger" in listing.content
    assert b"stranger@example.com" not in listing.content
    found = console.get("/admin/accounts/account/?q=stranger%40example.com").content
    assert f"/admin/accounts/account/{member.pk}/change/".encode() not in found  # no search by e-mail
    page = console.get(f"/admin/accounts/account/{member.pk}/change/")
    assert page.status_code == 200 and b"stranger@example.com" not in page.content
    own = console.get(f"/admin/accounts/account/{ns_admin.pk}/change/")
    assert ns_admin.email.encode() in own.content
