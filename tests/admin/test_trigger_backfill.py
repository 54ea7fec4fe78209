"""The console's backfill page of a schedule trigger starts executions through the service."""

import pytest

from accounts.roles import Role
from executions.models import Execution
from flows.models import Trigger
from tests.admin.helpers import admin_url, change_url
from tests.factories import AccountFactory, TriggerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def daily(tenant_a) -> Trigger:
    return TriggerFactory(flow=tenant_a.flow, type="schedule", cron="0 6 * * *", name="daily-in-a")


@pytest.fixture
def executor_a(tenant_a):
    return AccountFactory(username="executor-a", role=Role.EXECUTOR, default_namespace=tenant_a.namespace)


def backfill_url(trigger: Trigger) -> str:
    return admin_url("flows_trigger_backfill", trigger.pk)


def test_an_executor_backfills_from_the_trigger_page(client, executor_a, daily):
    client.force_login(executor_a)

    page = client.get(change_url(daily)).content.decode()
    form = client.get(backfill_url(daily))
    done = client.post(
        backfill_url(daily), {"start": "2026-03-01 00:00", "end": "2026-03-03 00:00", "inputs": '{"who": "ops"}'}
    )

    assert backfill_url(daily) in page
    assert form.status_code == 200 and 'name="start"' in form.content.decode()
    assert done.status_code == 302
    runs = Execution.objects.filter(trigger=daily).order_by("created_at")
    assert [r.trigger_data["date"] for r in runs] == ["2026-03-01T06:00:00.000000Z", "2026-03-02T06:00:00.000000Z"]
    assert {r.origin for r in runs} == {"backfill"}
    assert all(r.inputs == {"who": "ops"} for r in runs)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"start": "2026-03-03 00:00", "end": "2026-03-01 00:00"}, "end must be after start"),
        ({"start": "2026-03-01 00:00", "end": "2030-03-01 00:00"}, "more than 1000 ticks"),
        ({"start": "2026-03-01 00:00", "end": "2026-03-03 00:00", "inputs": "[1]"}, "A JSON object"),
    ],
)
def test_a_refused_range_shows_the_form_again_with_why(client, executor_a, daily, data, words):
    client.force_login(executor_a)

    response = client.post(backfill_url(daily), data)

    assert response.status_code == 200
    assert words in response.content.decode()
    assert not Execution.objects.filter(trigger=daily).exists()


def test_viewers_webhooks_and_other_tenants_get_no_backfill(client, viewer_a, daily, tenant_a, tenant_b):
    client.force_login(viewer_a)
    assert backfill_url(daily) not in client.get(change_url(daily)).content.decode()
    assert client.post(backfill_url(daily), {"start": "2026-03-01 00:00", "end": "2026-03-02 00:00"}).status_code == 403
    client.force_login(AccountFactory(role=Role.EXECUTOR, default_namespace=tenant_a.namespace))
    assert client.get(backfill_url(tenant_a.trigger)).status_code == 403  # a webhook trigger
    assert client.get(backfill_url(tenant_b.trigger)).status_code == 302  # another tenant's: as if missing
