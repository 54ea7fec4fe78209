"""Personal API tokens in the console: the raw value on one page only, kept nowhere; revoked from
the token's own page through the service."""

import hashlib
import re

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse

from accounts.models import ApiToken, AuditEntry
from accounts.services import api_token_create
from tests.admin.helpers import admin_url, change_url

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r"mr_[A-Za-z0-9_-]{40,}")


def revoke_url(token: ApiToken) -> str:
    return reverse("admin:accounts_apitoken_revoke", args=[token.pk])


def test_the_new_token_is_on_its_page_once_and_kept_nowhere(client, viewer_a):
    client.force_login(viewer_a)

    response = client.post(admin_url("accounts_apitoken_add"), {"account": str(viewer_a.pk), "name": "ci"})

    page = response.content.decode()
    (raw,) = TOKEN.findall(page)
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert f'id="new-api-token" value="{raw}" readonly' in page
    assert ApiToken.objects.get(name="ci").digest == hashlib.sha256(raw.encode()).hexdigest()
    stored_sessions = "".join(str(session.get_decoded()) for session in Session.objects.all())
    assert raw not in stored_sessions  # not parked in a session message either
    assert raw not in client.get(admin_url("index")).content.decode()


def test_revoke_from_the_token_page(client, viewer_a):
    token, _ = api_token_create(actor=viewer_a, account=viewer_a, name="laptop")
    client.force_login(viewer_a)

    page = client.get(change_url(token)).content.decode()
    response = client.post(revoke_url(token), follow=True)

    assert "revoke-token-button" in page
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "Revoked laptop" in response.content.decode()
    assert "revoke-token-button" not in response.content.decode()
    assert AuditEntry.objects.filter(action="api_token.revoke", resource_id=str(token.pk)).count() == 1


def test_tokens_of_others_cannot_be_revoked_by_url(client, viewer_a, editor_a, ns_admin, tenant_b):
    editors, _ = api_token_create(actor=editor_a, account=editor_a, name="editors")
    foreign, _ = api_token_create(actor=tenant_b.account, account=tenant_b.account, name="foreign")

    client.force_login(viewer_a)
    by_a_peer = client.post(revoke_url(editors))
    client.force_login(ns_admin)
    by_another_namespace = client.post(revoke_url(foreign))

    assert (by_a_peer.status_code, by_another_namespace.status_code) == (404, 404)
    assert not ApiToken.objects.filter(revoked_at__isnull=False).exists()
    assert client.get(revoke_url(foreign)).status_code == 405
