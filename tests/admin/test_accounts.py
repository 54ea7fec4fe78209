"""Accounts, namespaces and memberships: namespace admins manage their own namespaces' people only."""

import pytest

from accounts.models import Account, AuditEntry, Membership, Namespace
from accounts.roles import Role
from tests.admin.helpers import admin_url, change_url, changelist_url
from tests.factories import PASSWORD, AccountFactory

pytestmark = pytest.mark.django_db


def account_form(account: Account, **changes: str) -> dict[str, str]:
    data = {
        "username": account.username,
        "name": account.name,
        "email": account.email,
        "role": account.role,
        "default_namespace": str(account.default_namespace_id or ""),
        "is_active": "on",
    }
    return {**data, **changes}


def test_namespace_admin_lists_the_accounts_of_its_namespaces(client, ns_admin, tenant_a, tenant_b, global_admin):
    client.force_login(ns_admin)

    content = client.get(changelist_url(Account)).content.decode()

    for username in ("ns-admin", "user-in-a", "member-of-a"):
        assert username in content
    for username in ("user-in-b", "member-of-b", "global-root"):
        assert username not in content


def test_viewer_sees_only_itself_and_cannot_change_itself(client, viewer_a, tenant_a):
    client.force_login(viewer_a)

    listing = client.get(changelist_url(Account)).content.decode()
    own = client.get(change_url(viewer_a))
    post = client.post(change_url(viewer_a), account_form(viewer_a, role=Role.EDITOR))

    assert "viewer-a" in listing
    assert "user-in-a" not in listing
    assert own.status_code == 200
    assert 'name="_save"' not in own.content.decode()
    assert post.status_code == 403
    viewer_a.refresh_from_db()
    assert viewer_a.role == Role.VIEWER


def test_namespace_admin_changes_a_role_through_the_service(client, ns_admin, tenant_a):
    client.force_login(ns_admin)

    response = client.post(change_url(tenant_a.account), account_form(tenant_a.account, role=Role.EDITOR))

    assert response.status_code == 302
    tenant_a.account.refresh_from_db()
    assert tenant_a.account.role == Role.EDITOR
    assert AuditEntry.objects.get(action="account.update").summary == {"role": [Role.VIEWER, Role.EDITOR]}


def test_namespace_admin_cannot_make_a_global_admin(client, ns_admin, tenant_a):
    client.force_login(ns_admin)

    response = client.post(change_url(tenant_a.account), account_form(tenant_a.account, role=Role.ADMIN))

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    tenant_a.account.refresh_from_db()
    assert tenant_a.account.role == Role.VIEWER


def test_namespace_admin_cannot_create_a_global_admin(client, ns_admin, tenant_a):
    client.force_login(ns_admin)
    data = {"username": "would-be-root", "password1": PASSWORD, "password2": PASSWORD, "role": Role.ADMIN}

    response = client.post(admin_url("accounts_account_add"), {**data, "default_namespace": tenant_a.namespace.pk})

    assert response.status_code == 200
    assert not Account.objects.filter(username="would-be-root").exists()


def test_namespace_admin_creates_an_account_in_its_namespace(client, ns_admin, tenant_a, tenant_b):
    client.force_login(ns_admin)
    form = client.get(admin_url("accounts_account_add")).content.decode()
    data = {"username": "newcomer", "password1": PASSWORD, "password2": PASSWORD, "role": Role.EDITOR}

    response = client.post(admin_url("accounts_account_add"), {**data, "default_namespace": tenant_a.namespace.pk})

    assert f'value="{tenant_b.namespace.pk}"' not in form
    assert response.status_code == 302
    account = Account.objects.get(username="newcomer")
    assert (account.role, account.default_namespace, account.is_superuser) == (Role.EDITOR, tenant_a.namespace, False)
    assert account.check_password(PASSWORD)
    assert AuditEntry.objects.filter(action="account.create", resource_id=str(account.pk)).exists()


def test_namespace_admin_cannot_edit_a_superuser_of_its_namespace(client, ns_admin, tenant_a):
    boss = AccountFactory(username="boss", is_superuser=True, default_namespace=tenant_a.namespace)
    client.force_login(ns_admin)

    page = client.get(change_url(boss))
    post = client.post(change_url(boss), account_form(boss, name="renamed", is_active=""))

    assert 'name="_save"' not in page.content.decode()
    assert post.status_code == 403
    boss.refresh_from_db()
    assert (boss.name, boss.is_active) == ("Boss", True)


def test_only_a_superuser_touches_superusers_and_their_flags(client, global_admin, superuser, tenant_a):
    client.force_login(global_admin)
    refused = client.post(change_url(superuser), account_form(superuser, name="renamed"))
    ignored = client.post(change_url(tenant_a.account), account_form(tenant_a.account, is_superuser="on"))
    client.force_login(superuser)
    flags = {"is_staff": "on", "is_superuser": "on"}
    granted = client.post(change_url(tenant_a.account), account_form(tenant_a.account, **flags))

    assert refused.status_code == 403
    assert ignored.status_code == 302
    assert granted.status_code == 302
    assert Account.objects.get(pk=superuser.pk).name != "renamed"
    assert Account.objects.get(pk=tenant_a.account.pk).is_superuser is True
    summaries = AuditEntry.objects.filter(action="account.update").values_list("summary", flat=True)
    assert list(summaries).count({"via": "admin", "fields": ["is_superuser"]}) == 1


def test_global_admin_may_make_a_global_admin(client, global_admin, tenant_a):
    client.force_login(global_admin)

    response = client.post(change_url(tenant_a.account), account_form(tenant_a.account, role=Role.ADMIN))

    assert response.status_code == 302
    tenant_a.account.refresh_from_db()
    assert tenant_a.account.is_global_admin


def test_only_global_admins_add_namespaces(client, ns_admin, global_admin):
    client.force_login(ns_admin)
    refused = client.post(admin_url("accounts_namespace_add"), {"name": "rogue"})
    client.force_login(global_admin)
    data = {"name": "fresh", "description": "new", "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"}
    created = client.post(admin_url("accounts_namespace_add"), data)

    assert refused.status_code == 403
    assert created.status_code == 302
    assert not Namespace.objects.filter(name="rogue").exists()
    assert AuditEntry.objects.filter(action="namespace.create", namespace="fresh").exists()


def test_viewer_reads_a_namespace_but_not_its_members(client, viewer_a, tenant_a):
    client.force_login(viewer_a)

    page = client.get(change_url(tenant_a.namespace)).content.decode()

    assert "space-a" in page
    assert "member-of-a" not in page
    assert 'name="_save"' not in page
    assert client.get(changelist_url(Membership)).status_code == 403


def test_namespace_admin_manages_members_inline_through_the_services(client, ns_admin, tenant_a):
    client.force_login(ns_admin)
    existing = list(Membership.objects.filter(namespace=tenant_a.namespace).order_by("created_at"))
    data = {
        "description": "edited",
        "memberships-TOTAL_FORMS": str(len(existing) + 1),
        "memberships-INITIAL_FORMS": str(len(existing)),
    }
    for index, membership in enumerate(existing):
        prefix = f"memberships-{index}-"
        data |= {f"{prefix}id": str(membership.pk), f"{prefix}namespace": str(tenant_a.namespace.pk)}
        data |= {f"{prefix}role": membership.role}
        if membership == tenant_a.membership:
            data[f"{prefix}DELETE"] = "on"
    new = f"memberships-{len(existing)}-"
    data |= {f"{new}account": str(tenant_a.account.pk), f"{new}role": Role.EDITOR}

    response = client.post(change_url(tenant_a.namespace), data)

    assert response.status_code == 302
    assert Membership.objects.get(namespace=tenant_a.namespace, account=tenant_a.account).role == Role.EDITOR
    assert not Membership.objects.filter(pk=tenant_a.membership.pk).exists()
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"namespace.update", "membership.set", "membership.remove"} <= actions


def test_membership_choices_stay_inside_administered_namespaces(client, ns_admin, tenant_a, tenant_b):
    client.force_login(ns_admin)

    form = client.get(admin_url("accounts_membership_add")).content.decode()
    refused = client.post(
        admin_url("accounts_membership_add"),
        {"account": str(tenant_b.account.pk), "namespace": str(tenant_b.namespace.pk), "role": Role.ADMIN},
    )

    assert "space-a" in form
    assert "space-b" not in form
    assert "user-in-b" not in form
    assert refused.status_code == 200
    assert not Membership.objects.filter(account=tenant_b.account).exists()
