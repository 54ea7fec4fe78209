"""API tokens (shown once, stored as a digest, revocable) and the read-only audit log."""

import hashlib
import re

import pytest

from accounts.models import ApiToken, AuditEntry
from accounts.services import api_token_create, audit_record
from tests.admin.helpers import admin_url, change_url, changelist_url

pytestmark = pytest.mark.django_db


def test_add_view_shows_the_raw_token_once_and_stores_only_its_digest(client, viewer_a):
    client.force_login(viewer_a)

    response = client.post(admin_url("accounts_apitoken_add"), {"account": str(viewer_a.pk), "name": "ci"}, follow=True)

    shown = re.findall(r"mr_[A-Za-z0-9_-]{40,}", response.content.decode())
    assert len(shown) == 1
    raw = shown[0]
    token = ApiToken.objects.get(account=viewer_a, name="ci")
    assert token.digest == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in {token.name, token.prefix, token.digest}
    assert raw not in str(list(AuditEntry.objects.values_list("summary", flat=True)))
    assert raw not in client.get(changelist_url(ApiToken)).content.decode()
    assert raw not in client.get(change_url(token)).content.decode()


def test_token_pages_never_show_the_digest(client, viewer_a):
    token, _ = api_token_create(actor=viewer_a, account=viewer_a, name="laptop")
    client.force_login(viewer_a)

    listing = client.get(changelist_url(ApiToken)).content.decode()
    detail = client.get(change_url(token)).content.decode()

    assert "laptop" in listing
    assert token.digest not in listing
    assert token.digest not in detail
    assert "Digest" not in detail


def test_revoke_action_revokes_through_the_service(client, viewer_a):
    token, _ = api_token_create(actor=viewer_a, account=viewer_a, name="old")
    client.force_login(viewer_a)

    response = client.post(changelist_url(ApiToken), {"action": "revoke", "_selected_action": [str(token.pk)]})

    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEntry.objects.filter(action="api_token.revoke", resource_id=str(token.pk)).exists()


def test_members_see_and_mint_only_their_own_tokens(client, viewer_a, editor_a):
    api_token_create(actor=editor_a, account=editor_a, name="editors-token")
    client.force_login(viewer_a)

    listing = client.get(changelist_url(ApiToken)).content.decode()
    refused = client.post(admin_url("accounts_apitoken_add"), {"account": str(editor_a.pk), "name": "forged"})

    assert "editors-token" not in listing
    assert refused.status_code == 200
    assert not ApiToken.objects.filter(name="forged").exists()


def test_namespace_admin_revokes_tokens_of_accounts_it_administers(client, ns_admin, tenant_a, tenant_b):
    own, _ = api_token_create(actor=tenant_a.account, account=tenant_a.account, name="token-of-a")
    foreign, _ = api_token_create(actor=tenant_b.account, account=tenant_b.account, name="token-of-b")
    client.force_login(ns_admin)

    listing = client.get(changelist_url(ApiToken)).content.decode()
    client.post(changelist_url(ApiToken), {"action": "revoke", "_selected_action": [str(own.pk), str(foreign.pk)]})

    assert "token-of-a" in listing
    assert "token-of-b" not in listing
    own.refresh_from_db()
    foreign.refresh_from_db()
    assert own.revoked_at is not None
    assert foreign.revoked_at is None


def test_audit_log_is_read_only_even_for_a_superuser(client, superuser, tenant_a):
    entry = audit_record(actor=superuser, action="flow.update", resource_type="flow", namespace="space-a")
    client.force_login(superuser)

    page = client.get(change_url(entry))
    changed = client.post(change_url(entry), {"action": "forged"})
    deleted = client.post(change_url(entry).replace("/change/", "/delete/"), {"post": "yes"})

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert client.get(admin_url("accounts_auditentry_add")).status_code == 403
    assert (changed.status_code, deleted.status_code) == (403, 403)
    entry.refresh_from_db()
    assert entry.action == "flow.update"


def test_audit_log_is_scoped_to_administered_namespaces(client, ns_admin, viewer_a, tenant_a, tenant_b):
    audit_record(actor=None, action="seen.here", resource_type="flow", namespace="space-a")
    hidden = audit_record(actor=None, action="seen.elsewhere", resource_type="flow", namespace="space-b")
    client.force_login(ns_admin)

    listing = client.get(changelist_url(AuditEntry)).content.decode()
    direct = client.get(change_url(hidden))
    client.force_login(viewer_a)

    assert "seen.here" in listing
    assert "seen.elsewhere" not in listing
    assert direct.status_code == 302
    assert client.get(changelist_url(AuditEntry)).status_code == 403
