"""Agent triggers in the console: saved through the trigger services, agents of the flow's namespace only."""

import pytest

from flows.models import Trigger
from tests.admin.helpers import add_url, change_url
from tests.admin.test_triggers_and_agents import select_of, trigger_form
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db


def test_a_console_agent_trigger_is_saved_by_the_service(client, editor_a, tenant_a):
    agent = AgentFactory(namespace=tenant_a.namespace, name="feed", type="Agents::ManualEventAgent")
    client.force_login(editor_a)
    response = client.post(
        add_url(Trigger), trigger_form(tenant_a.flow.pk, type="agent", cron="", source_agent=str(agent.pk))
    )
    assert response.status_code == 302, response.content
    trigger = Trigger.objects.get(name="console")
    assert (trigger.type, trigger.source_agent_id, trigger.cron) == ("agent", agent.pk, "")
    assert f'value="{agent.pk}"' in select_of(client.get(change_url(trigger)).content.decode(), "source_agent")


def test_an_agent_trigger_without_an_agent_or_with_a_foreign_one_is_a_form_error(
    client, global_admin, tenant_a, tenant_b
):
    foreign = AgentFactory(namespace=tenant_b.namespace, name="elsewhere", type="Agents::ManualEventAgent")
    client.force_login(global_admin)
    missing = client.post(add_url(Trigger), trigger_form(tenant_a.flow.pk, type="agent", cron=""))
    assert missing.status_code == 200 and "required for an agent trigger" in missing.content.decode()
    crossed = client.post(
        add_url(Trigger), trigger_form(tenant_a.flow.pk, type="agent", cron="", source_agent=str(foreign.pk))
    )
    assert crossed.status_code == 200 and "Agent not found." in crossed.content.decode()
    assert not Trigger.objects.filter(name="console").exists()
