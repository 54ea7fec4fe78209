"""A namespace admin sets the namespace's retention in the console, through the service."""

import pytest

from accounts.models import AuditEntry, Namespace
from accounts.services import namespace_update
from core.errors import ValidationFailed
from tests.admin.helpers import admin_url, change_url

pytestmark = pytest.mark.django_db
NO_MEMBERS = {"memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"}


def test_a_namespace_admin_sets_and_clears_the_retention(client, ns_admin, tenant_a):
    client.force_login(ns_admin)
    form = client.get(change_url(tenant_a.namespace)).content.decode()
    data = {"description": "kept a week", "retention_days": "7", **NO_MEMBERS}

    set_ = client.post(change_url(tenant_a.namespace), data)
    tenant_a.namespace.refresh_from_db()
    kept = tenant_a.namespace.retention_days
    cleared = client.post(change_url(tenant_a.namespace), {**data, "retention_days": ""})
    tenant_a.namespace.refresh_from_db()

    assert 'name="retention_days"' in form
    assert (set_.status_code, cleared.status_code) == (302, 302)
    assert kept == 7
    assert tenant_a.namespace.retention_days is None
    summaries = AuditEntry.objects.filter(action="namespace.update").values_list("summary", flat=True)
    assert {s.get("retentionDays", "absent") for s in summaries} == {7, None}


def test_a_new_namespace_gets_its_retention(client, global_admin):
    client.force_login(global_admin)

    response = client.post(admin_url("accounts_namespace_add"), {"name": "brief", "retention_days": "3", **NO_MEMBERS})

    assert response.status_code == 302
    assert Namespace.objects.get(name="brief").retention_days == 3


def test_a_negative_retention_is_refused_by_the_form_and_the_service(client, ns_admin, tenant_a):
    client.force_login(ns_admin)

    page = client.post(change_url(tenant_a.namespace), {"description": "", "retention_days": "-1", **NO_MEMBERS})

    assert page.status_code == 200  # the form again, with its error
    with pytest.raises(ValidationFailed, match="retention_days"):
        namespace_update(actor=ns_admin, namespace=tenant_a.namespace, description="", retention_days=-1)
    assert Namespace.objects.get(pk=tenant_a.namespace.pk).retention_days is None
