"""Who may enter the console: roles decide, not the staff flag."""

import pytest

from accounts.roles import Role
from tests.admin.helpers import admin_url
from tests.factories import PASSWORD, AccountFactory

pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_login(client):
    response = client.get(admin_url("index"))

    assert response.status_code == 302
    assert response["Location"].startswith(admin_url("login"))


def test_account_without_any_role_is_kept_out(client):
    account = AccountFactory(username="nobody", default_namespace=None)
    client.force_login(account)

    response = client.get(admin_url("index"))

    assert response.status_code == 302
    assert response["Location"].startswith(admin_url("login"))


def test_login_form_refuses_an_account_without_a_role(client):
    AccountFactory(username="nobody", default_namespace=None)

    response = client.post(admin_url("login"), {"username": "nobody", "password": PASSWORD})

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_member_without_staff_flag_logs_in(client, tenant_a):
    AccountFactory(username="plain", role=Role.VIEWER, default_namespace=tenant_a.namespace, is_staff=False)

    response = client.post(admin_url("login"), {"username": "plain", "password": PASSWORD, "next": "/admin/"})

    assert response.status_code == 302
    assert client.get(admin_url("index")).status_code == 200


def test_inactive_member_is_kept_out(client, tenant_a):
    account = AccountFactory(default_namespace=tenant_a.namespace, is_active=False)
    client.force_login(account)

    assert client.get(admin_url("index")).status_code == 302


def test_index_shows_millrace_apps_to_members_and_plumbing_only_to_superusers(client, ns_admin, superuser):
    client.force_login(ns_admin)
    member_page = client.get(admin_url("index")).content.decode()
    client.force_login(superuser)
    superuser_page = client.get(admin_url("index")).content.decode()

    assert admin_url("app_list", "flows") in member_page
    assert admin_url("app_list", "django_q") not in member_page
    assert admin_url("app_list", "django_q") in superuser_page
