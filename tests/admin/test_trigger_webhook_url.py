"""A webhook trigger's page shows its URL ready to copy, to those who may fire it."""

import re

import pytest

from accounts.roles import Role
from executions.models import Execution
from tests.admin.helpers import change_url
from tests.factories import AccountFactory, TriggerFactory

pytestmark = pytest.mark.django_db


def shown_url(page: str) -> str | None:
    match = re.search(r'<input type="text" id="webhook-url" value="([^"]+)" readonly', page)
    return match.group(1) if match else None


def test_an_executor_gets_a_webhook_url_that_fires_the_flow(client, tenant_a):
    executor = AccountFactory(role=Role.EXECUTOR, default_namespace=tenant_a.namespace)
    client.force_login(executor)

    page = client.get(change_url(tenant_a.trigger)).content.decode()
    url = shown_url(page)
    client.logout()
    fired = client.post(url, {"order": 7}, content_type="application/json")

    assert url == "http://testserver/api/v1/webhook/hook-key-a"
    assert 'data-copy-target="webhook-url"' in page
    assert fired.status_code < 300, fired.content
    execution = Execution.objects.get(trigger=tenant_a.trigger)
    assert execution.origin == "webhook" and execution.trigger_data["body"] == {"order": 7}


def test_a_viewer_gets_no_webhook_url(client, viewer_a, tenant_a):
    client.force_login(viewer_a)

    page = client.get(change_url(tenant_a.trigger)).content.decode()

    assert shown_url(page) is None
    assert "hook-key-a" not in page


def test_a_schedule_has_no_webhook_url(client, editor_a, tenant_a):
    schedule = TriggerFactory(flow=tenant_a.flow, name="nightly", type="schedule", cron="0 3 * * *")
    client.force_login(editor_a)

    assert shown_url(client.get(change_url(schedule)).content.decode()) is None
