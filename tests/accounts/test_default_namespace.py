"""Every account creation path gives a default namespace; `namespace_home` falls back to `default`."""

import io

import pytest
from django.core.management import call_command

from accounts.models import DEFAULT_NAMESPACE, Account, Namespace
from accounts.roles import Role
from accounts.services import account_create, namespace_home
from flows.models import Flow
from tests.factories import PASSWORD, AccountFactory, NamespaceFactory

pytestmark = pytest.mark.django_db


def test_the_manager_gives_created_accounts_the_default_namespace():
    user = Account.objects.create_user("plain", "plain@example.com", PASSWORD)
    superuser = Account.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    assert user.default_namespace.name == superuser.default_namespace.name == DEFAULT_NAMESPACE
    assert user.role == Role.VIEWER and superuser.role == Role.ADMIN
    assert Namespace.objects.filter(name=DEFAULT_NAMESPACE).count() == 1


def test_the_manager_keeps_a_namespace_it_is_given():
    elsewhere = NamespaceFactory(name="elsewhere")
    user = Account.objects.create_user("plain", password=PASSWORD, default_namespace=elsewhere)
    assert user.default_namespace == elsewhere
    assert not Namespace.objects.filter(name=DEFAULT_NAMESPACE).exists()


def test_an_admin_without_a_namespace_creates_accounts_in_default():
    admin = AccountFactory(role=Role.ADMIN, default_namespace=None)
    account = account_create(actor=admin, username="newcomer", password=PASSWORD)
    assert account.default_namespace.name == DEFAULT_NAMESPACE
    assert namespace_home(account=admin).name == DEFAULT_NAMESPACE


def test_bootstrap_after_createsuperuser_loads_the_demo_with_that_admin(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    call_command("createsuperuser", interactive=False, username="root", email="root@example.com", verbosity=0)
    out = io.StringIO()
    call_command("bootstrap", "--demo", stdout=out)
    assert "Accounts exist" in out.getvalue()
    assert Account.objects.count() == 1
    assert Flow.objects.filter(namespace__name="demo", created_by__username="root").exists()


def test_bootstrap_on_an_empty_database_still_creates_the_first_admin(monkeypatch):
    monkeypatch.setenv("MILLRACE_ADMIN_PASSWORD", PASSWORD)
    out = io.StringIO()
    call_command("bootstrap", stdout=out)
    admin = Account.objects.get(username="admin")
    assert admin.is_superuser and admin.role == Role.ADMIN and admin.default_namespace.name == DEFAULT_NAMESPACE
