"""Secrets set and replaced from the console but never shown (pages, history, audit), and KV
entries written through the vault services."""

import json
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.utils import timezone

from accounts.models import AuditEntry
from accounts.roles import Role
from tests.admin.helpers import add_url, admin_url, change_url, changelist_url
from tests.factories import AccountFactory, KeyValueFactory
from vault.models import KeyValue, Secret
from vault.selectors import secret_value
from vault.services import secret_set

pytestmark = pytest.mark.django_db

VALUE = "first-value-of-the-secret"
NEW_VALUE = "second-value-of-the-secret"


def secret_form(**fields: str) -> dict[str, str]:
    return {"name": "API_KEY", "description": "", "namespace": "", "account": "", "value": "", **fields}


def plaintext(secret: Secret) -> str:
    secret.refresh_from_db()
    return secret_value(name=secret.name, namespace_id=secret.namespace_id, account_id=secret.account_id)


def everything_shown(client, secret: Secret) -> str:
    """Every console page that talks about the secret, and what the history and audit keep."""
    pages = [
        client.get(changelist_url(Secret)),
        client.get(change_url(secret)),
        client.get(change_url(secret).replace("/change/", "/history/")),
    ]
    history = [entry.change_message for entry in LogEntry.objects.all()]
    audit = [json.dumps(entry.summary) for entry in AuditEntry.objects.all()]
    return "\n".join([*(page.content.decode() for page in pages), *history, *audit])


def test_an_editor_sets_a_namespace_secret_that_is_never_shown(client, editor_a, tenant_a):
    client.force_login(editor_a)

    response = client.post(add_url(Secret), secret_form(namespace=str(tenant_a.namespace.pk), value=VALUE))

    assert response.status_code == 302
    secret = Secret.objects.get(name="API_KEY")
    assert (secret.namespace, secret.account, secret.created_by) == (tenant_a.namespace, None, editor_a)
    assert plaintext(secret) == VALUE
    assert AuditEntry.objects.filter(action="secret.create", resource_id=str(secret.pk)).count() == 1
    shown = everything_shown(client, secret)
    assert VALUE not in shown
    assert "API_KEY" in shown


def test_replacing_the_value_re_encrypts_and_still_shows_nothing(client, editor_a, tenant_a):
    secret = secret_set(actor=editor_a, name="API_KEY", value=VALUE, namespace=tenant_a.namespace)
    before = bytes(secret.ciphertext)
    client.force_login(editor_a)

    form = client.get(change_url(secret)).content.decode()
    response = client.post(change_url(secret), secret_form(value=NEW_VALUE, description="rotated"))

    assert '<input type="password" name="value"' in form and 'value="' not in form.split('name="value"')[1][:60]
    assert response.status_code == 302
    assert plaintext(secret) == NEW_VALUE
    assert bytes(secret.ciphertext) != before and secret.description == "rotated"
    assert AuditEntry.objects.filter(action="secret.update", resource_id=str(secret.pk)).exists()
    shown = everything_shown(client, secret)
    assert VALUE not in shown and NEW_VALUE not in shown


def test_an_empty_value_keeps_the_secret_and_changes_only_the_description(client, editor_a, tenant_a):
    secret = secret_set(actor=editor_a, name="API_KEY", value=VALUE, namespace=tenant_a.namespace)
    client.force_login(editor_a)

    response = client.post(change_url(secret), secret_form(description="for the billing API"))

    assert response.status_code == 302
    assert plaintext(secret) == VALUE
    assert secret.description == "for the billing API"


def test_a_rename_needs_the_value_again(client, editor_a, tenant_a):
    secret = secret_set(actor=editor_a, name="API_KEY", value=VALUE, namespace=tenant_a.namespace)
    client.force_login(editor_a)

    refused = client.post(change_url(secret), secret_form(name="BILLING_KEY"))
    renamed = client.post(change_url(secret), secret_form(name="BILLING_KEY", value=NEW_VALUE))

    assert refused.status_code == 200 and "needs its value" in refused.content.decode()
    assert renamed.status_code == 302
    assert secret_value(name="BILLING_KEY", namespace_id=tenant_a.namespace.pk) == NEW_VALUE
    assert Secret.objects.filter(namespace=tenant_a.namespace).count() == 2  # secret-in-a and this one


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"value": "z~"}, "At least 3 characters"),
        ({"value": VALUE, "name": "not a name!"}, "starting with a letter"),
        ({"value": VALUE, "name": "secret-in-a"}, "already exists"),
        ({"value": ""}, "needs its value"),
    ],
    ids=["short-value", "bad-name", "taken-name", "no-value"],
)
def test_a_refused_secret_is_a_form_error_that_does_not_echo_the_value(client, editor_a, tenant_a, fields, problem):
    client.force_login(editor_a)

    response = client.post(add_url(Secret), secret_form(namespace=str(tenant_a.namespace.pk), **fields))

    page = response.content.decode()
    assert response.status_code == 200
    assert problem in page
    if fields["value"]:
        assert fields["value"] not in page.replace(f'"{fields.get("name")}"', "")
    assert Secret.objects.filter(namespace=tenant_a.namespace).count() == 1


def test_one_owner_exactly(client, editor_a, tenant_a):
    client.force_login(editor_a)

    both = client.post(
        add_url(Secret), secret_form(namespace=str(tenant_a.namespace.pk), account=str(editor_a.pk), value=VALUE)
    )
    neither = client.post(add_url(Secret), secret_form(value=VALUE))

    assert "exactly one owner" in both.content.decode()
    assert "exactly one owner" in neither.content.decode()
    assert not Secret.objects.filter(name="API_KEY").exists()


def test_a_viewer_keeps_secrets_of_its_own_account_only(client, viewer_a, editor_a, tenant_a):
    client.force_login(viewer_a)

    own = client.post(add_url(Secret), secret_form(account=str(viewer_a.pk), value=VALUE))
    in_namespace = client.post(add_url(Secret), secret_form(namespace=str(tenant_a.namespace.pk), value=VALUE))
    for_another = client.post(add_url(Secret), secret_form(account=str(editor_a.pk), value=VALUE))
    change_namespace_secret = client.post(change_url(tenant_a.secret), secret_form(value=NEW_VALUE))

    assert own.status_code == 302
    assert plaintext(Secret.objects.get(account=viewer_a, name="API_KEY")) == VALUE
    assert "Select a valid choice" in in_namespace.content.decode()
    assert "Select a valid choice" in for_another.content.decode()
    assert change_namespace_secret.status_code == 403
    assert Secret.objects.filter(name="API_KEY").count() == 1


def test_a_namespace_admin_manages_secrets_of_accounts_it_administers(client, ns_admin, tenant_a, tenant_b):
    mine = secret_set(actor=tenant_a.account, name="PERSONAL", value=VALUE, account=tenant_a.account)
    theirs = secret_set(actor=tenant_b.account, name="PERSONAL_B", value=VALUE, account=tenant_b.account)
    client.force_login(ns_admin)

    listing = client.get(changelist_url(Secret)).content.decode()
    replaced = client.post(change_url(mine), secret_form(name="PERSONAL", value=NEW_VALUE))
    foreign = client.post(change_url(theirs), secret_form(name="PERSONAL_B", value=NEW_VALUE))

    assert "PERSONAL" in listing and "PERSONAL_B" not in listing and "secret-in-b" not in listing
    assert replaced.status_code == 302 and plaintext(mine) == NEW_VALUE
    assert foreign.status_code == 302 and plaintext(theirs) == VALUE  # not found: sent back to the index


def test_deleting_a_secret_goes_through_the_service(client, editor_a, tenant_a):
    client.force_login(editor_a)

    response = client.post(change_url(tenant_a.secret).replace("/change/", "/delete/"), {"post": "yes"})

    assert response.status_code == 302
    assert not Secret.objects.filter(pk=tenant_a.secret.pk).exists()
    assert AuditEntry.objects.filter(action="secret.delete", resource_id=str(tenant_a.secret.pk)).exists()


def kv_form(namespace, **fields: str) -> dict[str, str]:
    return {"namespace": str(namespace.pk), "key": "greeting", "value": '{"text": "hi"}', "ttl": "", **fields}


def test_an_editor_sets_a_kv_entry_with_a_ttl_through_the_service(client, editor_a, tenant_a):
    client.force_login(editor_a)

    response = client.post(add_url(KeyValue), kv_form(tenant_a.namespace, ttl="3600"))

    assert response.status_code == 302
    entry = KeyValue.objects.get(key="greeting")
    assert entry.value == {"text": "hi"}
    assert timezone.now() + timedelta(seconds=3500) < entry.expires_at < timezone.now() + timedelta(seconds=3700)
    assert AuditEntry.objects.get(action="kv.set").summary == {"key": "greeting", "ttl": 3600}


def test_changing_a_kv_entry_keeps_its_key_and_may_drop_the_expiry(client, editor_a, tenant_a):
    KeyValue.objects.filter(pk=tenant_a.kv.pk).update(expires_at=timezone.now() + timedelta(hours=1))
    client.force_login(editor_a)

    form = client.get(change_url(tenant_a.kv)).content.decode()
    response = client.post(change_url(tenant_a.kv), kv_form(tenant_a.namespace, key="renamed", value="[1, 2]"))

    assert 'name="ttl"' in form and 'name="key"' not in form
    assert response.status_code == 302
    tenant_a.kv.refresh_from_db()
    assert (tenant_a.kv.key, tenant_a.kv.value, tenant_a.kv.expires_at) == ("kv-in-a", [1, 2], None)
    assert not KeyValue.objects.filter(key="renamed").exists()


def test_a_kv_value_over_the_limit_is_a_form_error(client, editor_a, tenant_a, settings):
    settings.MILLRACE_KV_MAX_VALUE_BYTES = 16
    client.force_login(editor_a)

    response = client.post(add_url(KeyValue), kv_form(tenant_a.namespace, value=json.dumps("x" * 40)))

    assert response.status_code == 200 and "the limit is 16" in response.content.decode()
    assert not KeyValue.objects.filter(key="greeting").exists()


def test_deleting_a_kv_entry_is_audited_even_when_it_expired(client, editor_a, tenant_a):
    expired = KeyValueFactory(
        namespace=tenant_a.namespace, key="old", value=1, expires_at=timezone.now() - timedelta(seconds=1)
    )
    client.force_login(editor_a)

    client.post(change_url(tenant_a.kv).replace("/change/", "/delete/"), {"post": "yes"})
    client.post(change_url(expired).replace("/change/", "/delete/"), {"post": "yes"})

    assert not KeyValue.objects.filter(pk__in=[tenant_a.kv.pk, expired.pk]).exists()
    assert AuditEntry.objects.filter(action="kv.delete", resource_id="kv-in-a").exists()
    assert AuditEntry.objects.filter(action="keyvalue.delete", resource_id=str(expired.pk)).exists()


def test_kv_writes_need_the_editor_role(client, tenant_a):
    executor = AccountFactory(role=Role.EXECUTOR, default_namespace=tenant_a.namespace)
    client.force_login(executor)

    assert client.get(add_url(KeyValue)).status_code == 403
    assert client.post(change_url(tenant_a.kv), kv_form(tenant_a.namespace, value="2")).status_code == 403
    assert client.get(admin_url("vault_keyvalue_changelist")).status_code == 200
