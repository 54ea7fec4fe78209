"""Agents in the console: saved through the agent services, run and sent messages from their page,
their messages and logs, workflow graphs, and the export → import round trip."""

import io
import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEntry
from accounts.roles import Role
from agents import services
from executions.models import AgentLog, Message
from flows.models import Agent, AgentLink, Flow
from tests.admin.helpers import add_url, change_url
from tests.factories import (
    AccountFactory,
    AgentLogFactory,
    FlowFactory,
    MembershipFactory,
    MessageFactory,
    NamespaceFactory,
)
from vault.services import secret_set


@pytest.fixture
def eager(settings, transactional_db):
    settings.MILLRACE_ENGINE_EAGER = True


@pytest.fixture
def space(transactional_db):
    return NamespaceFactory(name="agents-space")


@pytest.fixture
def editor(space):
    return AccountFactory(username="agent-editor", role=Role.EDITOR, default_namespace=space)


@pytest.fixture
def executor(space):
    return AccountFactory(username="agent-executor", role=Role.EXECUTOR, default_namespace=space)


@pytest.fixture
def viewer(space):
    return AccountFactory(username="agent-viewer", role=Role.VIEWER, default_namespace=space)


@pytest.fixture
def chain(eager, editor, space):
    """inbox (manual) → shaper (formatting), in a workflow."""
    flow = FlowFactory(namespace=space, name="news", source="name: news\ntasks: []\n")
    inbox = services.agent_create(
        actor=editor, namespace=space, name="inbox", type="Agents::ManualEventAgent", workflow_ids=[flow.pk]
    )
    shaper = services.agent_create(
        actor=editor,
        namespace=space,
        name="shaper",
        type="Agents::EventFormattingAgent",
        options={"instructions": {"text": "got {{ message.n }}"}},
        source_ids=[inbox.pk],
        workflow_ids=[flow.pk],
    )
    return flow, inbox, shaper


def agent_form(space, **fields) -> dict[str, str]:
    data = {
        "namespace": str(space.pk),
        "name": "ticker",
        "type": "util.echo",
        "options": '{"value": {"tick": 1}}',
        "schedule": "every_1h",
        "keep_messages_for": "",
        "source_agents": [],
        "workflows": [],
    }
    return {**data, **fields}


def graph_url(flow: Flow) -> str:
    return reverse("admin:flows_agent_graph", args=[flow.pk])


# --- create and edit -----------------------------------------------------------------------


def test_a_console_agent_is_created_by_the_service(client, chain, editor, space):
    flow, inbox, _ = chain
    services.message_create(actor=editor, agent=inbox, payload={"n": 1})  # before the link: not for the new agent
    client.force_login(editor)

    response = client.post(
        add_url(Agent),
        agent_form(
            space,
            name="second-shaper",
            type="Agents::EventFormattingAgent",
            options='{"instructions": {"a": 1}}',
            schedule="never",
            source_agents=[str(inbox.pk)],
            workflows=[str(flow.pk)],
        ),
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    agent = Agent.objects.get(name="second-shaper")
    assert (agent.created_by, agent.options_saved_by, agent.options) == (editor, editor, {"instructions": {"a": 1}})
    assert list(agent.flows.all()) == [flow]
    link = AgentLink.objects.get(receiver=agent)
    assert link.source == inbox and link.cursor == Message.objects.filter(agent=inbox).latest("id").id
    assert AuditEntry.objects.filter(action="agent.create", resource_id=str(agent.pk)).count() == 1


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"type": "Agents::NoSuchAgent"}, "unknown agent type"),
        ({"schedule": "every full moon"}, "every_1m..every_7d"),
        ({"type": "Agents::TriggerAgent", "schedule": "never", "options": "{}"}, "&#x27;rules&#x27; must be"),
        ({"options": '{"value": "${NOT_A_SECRET}"}'}, "unknown secret &#x27;NOT_A_SECRET&#x27;"),
        ({"options": "[1, 2]"}, "must be an object"),
        ({"type": "Agents::ManualEventAgent", "schedule": "every_1h", "options": "{}"}, "cannot be scheduled"),
    ],
    ids=["type", "schedule", "options", "secret", "not-an-object", "unschedulable"],
)
def test_a_refused_agent_is_a_form_error(client, editor, space, fields, problem):
    client.force_login(editor)

    response = client.post(add_url(Agent), agent_form(space, **fields))

    assert response.status_code == 200
    assert problem in response.content.decode()
    assert not Agent.objects.filter(name="ticker").exists()


def test_a_source_of_another_namespace_cannot_be_chosen(client, chain, editor, space):
    other = NamespaceFactory(name="agents-elsewhere")
    MembershipFactory(account=editor, namespace=other, role=Role.EDITOR)
    _, inbox, _ = chain
    client.force_login(editor)

    response = client.post(
        add_url(Agent), agent_form(other, type="Agents::EventFormattingAgent", source_agents=[str(inbox.pk)])
    )

    assert response.status_code == 200
    assert "every source must be an agent of the same namespace" in response.content.decode()


def test_editing_only_the_schedule_keeps_whose_secrets_the_agent_uses(client, eager, editor, space):
    secret_set(actor=editor, name="MY_TOKEN", value="editors-own-token", account=editor)
    agent = services.agent_create(
        actor=editor, namespace=space, name="ticker", type="util.echo", options={"value": "${MY_TOKEN}"}
    )
    other = AccountFactory(role=Role.EDITOR, default_namespace=space)
    client.force_login(other)
    form = client.get(change_url(agent)).content.decode()

    rescheduled = client.post(change_url(agent), agent_form(space, options='{"value": "${MY_TOKEN}"}'))
    agent.refresh_from_db()
    saver_after_schedule = agent.options_saved_by
    refused = client.post(change_url(agent), agent_form(space, options='{"value": "${MY_TOKEN}!"}'))

    assert '"value": "${MY_TOKEN}"' in form.replace("&quot;", '"')  # the options, indented JSON
    assert rescheduled.status_code == 302
    assert saver_after_schedule == editor and agent.schedule == "every_1h"
    assert "unknown secret &#x27;MY_TOKEN&#x27;" in refused.content.decode()  # not the other editor's to use


def test_a_viewer_reads_a_webhook_agent_without_its_secret(client, eager, editor, viewer, executor, space):
    agent = services.agent_create(actor=editor, namespace=space, name="hook", type="Agents::WebhookAgent")
    secret = agent.options["secret"]
    client.force_login(viewer)
    as_viewer = client.get(change_url(agent)).content.decode()
    client.force_login(executor)
    as_executor = client.get(change_url(agent)).content.decode()

    assert secret not in as_viewer and "******" in as_viewer
    url = re.search(r'id="agent-webhook-url" value="([^"]+)"', as_executor).group(1)
    assert url == f"http://testserver/api/v1/agents/{agent.pk}/webhook/{secret}"
    client.logout()
    assert client.post(url, {"hello": "world"}, content_type="application/json").status_code < 300
    assert Message.objects.get(agent=agent).payload == {"hello": "world"}


# --- run now, manual messages, messages and logs --------------------------------------------


def test_run_now_from_the_page(client, eager, editor, executor, space):
    ticker = services.agent_create(
        actor=editor, namespace=space, name="ticker", type="util.echo", options={"value": {"tick": 1}}
    )
    client.force_login(executor)

    page = client.get(change_url(ticker)).content.decode()
    response = client.post(reverse("admin:flows_agent_run", args=[ticker.pk]), follow=True)

    assert "run-now-button" in page
    assert "Queued a run of ticker." in response.content.decode()
    assert AuditEntry.objects.filter(action="agent.run", resource_id=str(ticker.pk)).count() == 1
    assert Message.objects.get(agent=ticker).payload == {"tick": 1}
    assert "&quot;tick&quot;: 1" in response.content.decode()  # among the recent messages


def test_a_manual_message_from_the_page_reaches_the_receiver(client, chain, executor):
    _, inbox, shaper = chain
    client.force_login(executor)

    response = client.post(reverse("admin:flows_agent_message", args=[inbox.pk]), {"payload": '{"n": 5}'}, follow=True)

    assert "Sent message" in response.content.decode()
    assert Message.objects.get(agent=inbox).payload == {"n": 5}
    assert Message.objects.get(agent=shaper).payload == {"text": "got 5"}


@pytest.mark.parametrize(
    ("payload", "problem"), [("{not json", "The payload is not JSON"), ("[1]", "payload must be an object")]
)
def test_a_bad_manual_message_is_a_message_not_an_error(client, chain, executor, payload, problem):
    _, inbox, _ = chain
    client.force_login(executor)

    response = client.post(reverse("admin:flows_agent_message", args=[inbox.pk]), {"payload": payload}, follow=True)

    assert problem in response.content.decode()
    assert not Message.objects.filter(agent=inbox).exists()


def test_a_viewer_is_offered_no_actions_and_is_refused_them(client, chain, viewer):
    _, inbox, _ = chain
    client.force_login(viewer)

    page = client.get(change_url(inbox)).content.decode()
    sent = client.post(reverse("admin:flows_agent_message", args=[inbox.pk]), {"payload": "{}"}, follow=True)

    assert "manual-message-form" not in page and "run-now-button" not in page
    assert "needs the role" in sent.content.decode()
    assert not Message.objects.filter(agent=inbox).exists()


def test_the_page_shows_recent_messages_newest_first_and_the_last_error(client, chain, editor, executor):
    _, inbox, shaper = chain
    for n in (1, 2, 3):
        services.message_create(actor=editor, agent=inbox, payload={"n": n})
    Agent.objects.filter(pk=shaper.pk).update(last_error="2030-01-01T00:00:00 boom: the upstream said no")
    client.force_login(executor)

    page = client.get(change_url(shaper)).content.decode()

    assert page.index("got 3") < page.index("got 2") < page.index("got 1")
    assert "boom: the upstream said no" in page
    assert "activity-row" not in page  # the audit trail is for namespace admins


def test_the_page_shows_the_agents_log_lines(client, chain, editor, executor):
    _, inbox, shaper = chain
    services.message_create(actor=editor, agent=inbox, payload={"n": 7})
    AgentLogFactory(agent=shaper, level=AgentLog.Level.ERROR, text="the upstream said <no>")
    client.force_login(executor)

    page = client.get(change_url(shaper)).content.decode()

    message = Message.objects.get(agent=inbox)
    assert f"Received message {message.pk}; emitted 1 message." in page
    assert 'class="log-row level-error"' in page and "the upstream said &lt;no&gt;" in page
    assert "clear-logs-button" not in page  # clearing is for editors


def test_an_editor_clears_the_logs_and_it_is_audited(client, chain, editor, executor):
    _, inbox, shaper = chain
    services.message_create(actor=editor, agent=inbox, payload={"n": 1})
    assert AgentLog.objects.filter(agent=shaper).count() == 1
    clear = reverse("admin:flows_agent_clear_logs", args=[shaper.pk])

    client.force_login(executor)
    refused = client.post(clear, follow=True).content.decode()
    assert "needs the role" in refused and AgentLog.objects.filter(agent=shaper).count() == 1

    client.force_login(editor)
    assert "clear-logs-button" in client.get(change_url(shaper)).content.decode()
    cleared = client.post(clear, follow=True).content.decode()

    assert "Cleared 1 log lines of shaper." in cleared
    assert not AgentLog.objects.filter(agent=shaper).exists()
    assert not AgentLog.objects.filter(agent=inbox).exists()  # a manual message is not a run of inbox
    assert AuditEntry.objects.filter(action="agent.logs_clear", resource_id=str(shaper.pk)).count() == 1


def test_another_namespaces_agent_logs_cannot_be_cleared(client, chain, editor):
    _, inbox, shaper = chain
    services.message_create(actor=editor, agent=inbox, payload={"n": 1})
    stranger = AccountFactory(role=Role.EDITOR, default_namespace=NamespaceFactory(name="elsewhere"))
    client.force_login(stranger)

    response = client.post(reverse("admin:flows_agent_clear_logs", args=[shaper.pk]))

    assert response.status_code == 404
    assert AgentLog.objects.filter(agent=shaper).count() == 1


def test_a_namespace_admin_sees_the_agents_activity(client, chain, editor, space):
    _, inbox, _ = chain
    services.message_create(actor=editor, agent=inbox, payload={"n": 1})
    admin = AccountFactory(role=Role.VIEWER, default_namespace=None)
    MembershipFactory(account=admin, namespace=space, role=Role.ADMIN)
    client.force_login(admin)

    page = client.get(change_url(inbox)).content.decode()

    assert "agent.message by agent-editor" in page
    assert "agent.create by agent-editor" in page


# --- workflows: graph, export, import ---------------------------------------------------------


def test_the_graph_draws_every_agent_and_link(client, chain, viewer):
    flow, inbox, shaper = chain
    Agent.objects.filter(pk=shaper.pk).update(name="<script>alert(1)</script>")
    MessageFactory(agent=inbox)
    MessageFactory(agent=inbox, expires_at=timezone.now() - timedelta(seconds=1))  # expired, not purged yet
    client.force_login(viewer)

    page = client.get(graph_url(flow)).content.decode()

    svg = page[page.index("<svg xmlns") : page.index("</svg>", page.index("<svg xmlns"))]
    assert f'data-agent="{inbox.pk}"' in svg and f'data-agent="{shaper.pk}"' in svg
    assert svg.count('class="ag-edge"') == 1
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert change_url(inbox) in svg
    assert ">1 message<" in svg and ">0 messages<" in svg  # the messages not yet expired


def test_another_namespaces_workflow_is_not_found(client, chain, space):
    flow, inbox, _ = chain
    stranger = AccountFactory(role=Role.EDITOR, default_namespace=NamespaceFactory(name="agents-other"))
    client.force_login(stranger)

    assert client.get(graph_url(flow)).status_code == 404
    assert client.get(reverse("admin:flows_agent_export", args=[flow.pk])).status_code == 404
    assert client.post(reverse("admin:flows_agent_run", args=[inbox.pk])).status_code == 404
    assert client.post(reverse("admin:flows_agent_message", args=[inbox.pk]), {"payload": "{}"}).status_code == 404
    assert "news" not in client.get(reverse("admin:flows_agent_workflows")).content.decode()


def test_export_then_import_into_another_namespace(client, chain, editor):
    flow, _, _ = chain
    target = NamespaceFactory(name="agents-copy")
    MembershipFactory(account=editor, namespace=target, role=Role.EDITOR)
    client.force_login(editor)

    exported = client.get(reverse("admin:flows_agent_export", args=[flow.pk]))
    upload = io.BytesIO(exported.content)
    upload.name = "news.json"
    imported = client.post(
        reverse("admin:flows_agent_import"), {"namespace": str(target.pk), "file": upload, "name": "news-copy"}
    )

    assert exported["Content-Disposition"] == 'attachment; filename="news.json"'
    assert [agent["name"] for agent in json.loads(exported.content)["agents"]] == ["inbox", "shaper"]
    copy = Flow.objects.get(namespace=target, name="news-copy")
    assert imported.status_code == 302 and imported["Location"] == graph_url(copy)
    agents = {agent.name: agent for agent in Agent.objects.filter(namespace=target)}
    assert set(agents) == {"inbox", "shaper"}
    assert AgentLink.objects.filter(source=agents["inbox"], receiver=agents["shaper"]).exists()
    assert set(copy.agents.all()) == set(agents.values())


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"{not json", "The file is not JSON"), (b'{"name": "x", "agents": "many"}', "agents: must be a list")],
    ids=["not-json", "bad-document"],
)
def test_a_bad_import_file_is_a_form_error(client, editor, space, content, problem):
    client.force_login(editor)
    upload = io.BytesIO(content)
    upload.name = "bad.json"

    response = client.post(reverse("admin:flows_agent_import"), {"namespace": str(space.pk), "file": upload})

    assert response.status_code == 200
    assert problem in response.content.decode()
    assert not Flow.objects.filter(name="x").exists()


def test_import_needs_the_editor_role(client, viewer, space):
    client.force_login(viewer)
    upload = io.BytesIO(b'{"name": "x", "agents": []}')
    upload.name = "x.json"

    assert client.get(reverse("admin:flows_agent_import")).status_code == 404
    posted = client.post(reverse("admin:flows_agent_import"), {"namespace": str(space.pk), "file": upload})

    assert posted.status_code == 404
    assert not Flow.objects.filter(name="x").exists()


def test_the_graph_links_a_flow_agent_to_its_flow(client, chain, editor, viewer, space):
    flow, inbox, _ = chain
    target = FlowFactory(namespace=space, name="<b>target</b>")
    runner = services.agent_create(
        actor=editor, namespace=space, name="runner", type="Agents::FlowAgent",
        options={"flow_id": str(target.pk)}, source_ids=[inbox.pk], workflow_ids=[flow.pk],
    )  # fmt: skip
    services.agent_create(
        actor=editor, namespace=space, name="templated", type="FlowAgent",
        options={"flow_id": "{{ message.flow }}"}, source_ids=[inbox.pk], workflow_ids=[flow.pk],
    )  # fmt: skip
    client.force_login(viewer)

    page = client.get(graph_url(flow)).content.decode()

    flow_page = reverse("admin:flows_flow_change", args=[target.pk])
    assert page.count('class="ag-flow-link"') == 1 and f'<a href="{flow_page}" class="ag-flow-link">' in page
    assert "starts flow &lt;b&gt;target&lt;/b&gt;" in page and f'data-agent="{runner.pk}"' in page
    assert client.get(flow_page).status_code == 200
