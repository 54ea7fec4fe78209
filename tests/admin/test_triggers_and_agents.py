"""Console trigger writes go through the trigger services; choices stay in the object's namespace."""

from datetime import UTC, datetime

import pytest

from accounts.models import AuditEntry
from flows.models import Trigger
from tests.admin.helpers import add_url, change_url
from tests.factories import AgentFactory, AgentLinkFactory, FlowFactory, TriggerFactory

pytestmark = pytest.mark.django_db


def trigger_form(flow_id: object, **changes: str) -> dict[str, str]:
    data = {
        "flow": str(flow_id),
        "name": "console",
        "type": "schedule",
        "cron": "0 3 * * *",
        "timezone": "UTC",
        "source_flow": "",
        "statuses": "[]",
        "inputs": "{}",
        "enabled": "on",
    }
    return {**data, **changes}


def select_of(page: str, name: str) -> str:
    """The HTML of the `<select name=...>` element on a page."""
    start = page.index(f'name="{name}"')
    return page[start : page.index("</select>", start)]


def test_an_invalid_cron_is_a_form_error_not_a_saved_trigger(client, editor_a, tenant_a):
    client.force_login(editor_a)
    response = client.post(add_url(Trigger), trigger_form(tenant_a.flow.pk, cron="every day at noon"))
    assert response.status_code == 200
    assert "invalid cron expression" in response.content.decode()
    assert not Trigger.objects.filter(name="console").exists()


def test_an_unknown_timezone_is_a_form_error(client, editor_a, tenant_a):
    client.force_login(editor_a)
    response = client.post(add_url(Trigger), trigger_form(tenant_a.flow.pk, timezone="Mars/Olympus"))
    assert response.status_code == 200
    assert "unknown timezone" in response.content.decode()
    assert not Trigger.objects.filter(name="console").exists()


def test_a_console_schedule_is_armed_and_audited_by_the_service(client, editor_a, tenant_a):
    client.force_login(editor_a)
    response = client.post(add_url(Trigger), trigger_form(tenant_a.flow.pk))
    assert response.status_code == 302
    trigger = Trigger.objects.get(name="console")
    assert trigger.next_fire_at is not None and trigger.next_fire_at > datetime.now(UTC)
    assert AuditEntry.objects.filter(action="trigger.create", resource_id=str(trigger.pk)).count() == 1


def test_a_console_change_reschedules_through_the_service(client, editor_a, tenant_a):
    trigger = TriggerFactory(flow=tenant_a.flow, name="nightly", type="schedule", cron="0 3 * * *")
    client.force_login(editor_a)
    response = client.post(change_url(trigger), trigger_form(tenant_a.flow.pk, name="nightly", cron="30 4 * * *"))
    assert response.status_code == 302
    trigger.refresh_from_db()
    assert trigger.cron == "30 4 * * *" and trigger.next_fire_at is not None
    assert trigger.next_fire_at.minute == 30
    assert AuditEntry.objects.filter(action="trigger.update", resource_id=str(trigger.pk)).exists()


def test_a_flow_trigger_watching_its_own_flow_is_a_form_error(client, editor_a, tenant_a):
    client.force_login(editor_a)
    data = trigger_form(tenant_a.flow.pk, type="flow", cron="", source_flow=str(tenant_a.flow.pk))
    response = client.post(add_url(Trigger), data)
    assert response.status_code == 200
    assert "own flow" in response.content.decode()
    assert not Trigger.objects.filter(name="console").exists()


def test_yaml_declared_triggers_are_read_only(client, editor_a, tenant_a):
    declared = TriggerFactory(
        flow=tenant_a.flow, name="from-yaml", type="schedule", cron="0 3 * * *", from_definition=True
    )
    client.force_login(editor_a)
    page = client.get(change_url(declared))
    assert page.status_code == 200
    assert 'name="cron"' not in page.content.decode()  # shown, not editable
    client.post(change_url(declared), trigger_form(tenant_a.flow.pk, name="from-yaml", cron="* * * * *"))
    declared.refresh_from_db()
    assert declared.cron == "0 3 * * *"
    client.post(change_url(declared).replace("/change/", "/delete/"), {"post": "yes"})
    assert Trigger.objects.filter(pk=declared.pk).exists()


def test_trigger_source_flow_choices_stay_in_the_triggers_namespace(client, global_admin, tenant_a, tenant_b):
    client.force_login(global_admin)
    choices = select_of(client.get(change_url(tenant_a.trigger)).content.decode(), "source_flow")
    assert "flow-in-a" in choices
    assert "flow-in-b" not in choices


def test_agent_flow_and_source_choices_stay_in_the_agents_namespace(client, global_admin, tenant_a, tenant_b):
    other_a = AgentFactory(namespace=tenant_a.namespace, name="other-agent-in-a", type="manual")
    AgentLinkFactory(source=other_a, receiver=tenant_a.agent)
    FlowFactory(namespace=tenant_a.namespace, name="second-flow-in-a")
    client.force_login(global_admin)
    page = client.get(change_url(tenant_a.agent)).content.decode()
    flows = select_of(page, "workflows")
    assert "second-flow-in-a" in flows and "flow-in-b" not in flows
    sources = select_of(page, "source_agents")
    assert "other-agent-in-a" in sources and "agent-in-b" not in sources
