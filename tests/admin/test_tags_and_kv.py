"""Flow tags are typed comma-separated (raw JSON lists still accepted, bad ones refused in
words); an expired key-value entry is listed and opened without its value."""

from datetime import timedelta

import pytest
from django.utils import timezone

from flows.models import Flow
from tests.admin.helpers import change_url, changelist_url
from tests.admin.test_flow_pages import form_data
from tests.factories import KeyValueFactory
from vault.models import KeyValue


def save(client, flow: Flow, tags: str):
    return client.post(change_url(flow), form_data(flow, tags=tags))


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("reports, nightly", ["reports", "nightly"]),
        (" reports ,, nightly , reports ", ["reports", "nightly"]),
        ('["finance", "eu"]', ["finance", "eu"]),
        ("", []),
    ],
)
def test_tags_are_typed_comma_separated(client, editor_a, tenant_a, typed, stored):
    client.force_login(editor_a)
    response = save(client, tenant_a.flow, typed)
    assert response.status_code == 302, response.content.decode()[:2000]
    tenant_a.flow.refresh_from_db()
    assert tenant_a.flow.tags == stored


def test_the_form_shows_tags_as_text(client, editor_a, tenant_a):
    Flow.objects.filter(pk=tenant_a.flow.pk).update(tags=["reports", "nightly"])
    client.force_login(editor_a)
    page = client.get(change_url(tenant_a.flow)).content.decode()
    assert 'name="tags" value="reports, nightly"' in page
    assert '<textarea name="tags"' not in page


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ('["unclosed"', "Tags separated by commas, or a JSON list of strings."),
        ("[1, 2]", "Tags separated by commas, or a JSON list of strings."),
        (", ".join(f"t{n}" for n in range(51)), "At most 50 tags; there are 51."),
        ("x" * 101, "A tag has at most 100 characters"),
    ],
    ids=["bad-json", "not-strings", "too-many", "too-long"],
)
def test_bad_tags_are_refused_in_words(client, editor_a, tenant_a, typed, error):
    client.force_login(editor_a)
    response = save(client, tenant_a.flow, typed)
    assert response.status_code == 200 and error in response.content.decode()
    tenant_a.flow.refresh_from_db()
    assert tenant_a.flow.tags == []


def test_an_expired_entry_is_listed_and_opened_without_its_value(client, editor_a, tenant_a):
    expired = KeyValueFactory(
        namespace=tenant_a.namespace,
        key="stale-token",
        value={"token": "expired-value-not-shown"},
        expires_at=timezone.now() - timedelta(minutes=1),
    )
    KeyValueFactory(namespace=tenant_a.namespace, key="fresh", value={"greeting": "still-here"})
    client.force_login(editor_a)
    listing = client.get(changelist_url(KeyValue)).content.decode()
    assert "stale-token" in listing and "(expired)" in listing
    assert "expired-value-not-shown" not in listing and "still-here" in listing
    page = client.get(change_url(expired)).content.decode()
    assert "expired-value-not-shown" not in page and "This entry has expired" in page
