"""`${NAME}` in an agent's options resolves through whoever last saved the options (or type),
as a flow's secrets follow the author of its running revision; the namespace's credentials first."""

import json

import pytest
from django.contrib.admin.sites import site
from django.test import RequestFactory
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from accounts.roles import Role
from agents import services
from core.errors import ValidationFailed
from executions.models import Message
from flows.models import Agent
from tests.factories import AccountFactory
from vault.services import secret_set


@pytest.fixture
def creator(actor):
    secret_set(actor=actor, name="API_TOKEN", value="creator-token-value", account=actor)
    return actor


@pytest.fixture
def other_editor(eager, namespace):
    return AccountFactory(role=Role.EDITOR, default_namespace=namespace)


@pytest.fixture
def seen(httpserver: HTTPServer) -> list[str]:
    """The Authorization headers the upstream received."""
    headers: list[str] = []

    def record(request: Request) -> Response:
        headers.append(request.headers.get("Authorization", ""))
        return Response("{}", content_type="application/json")

    httpserver.expect_request("/hook", method="POST").respond_with_handler(record)
    return headers


def poster(creator, namespace, httpserver: HTTPServer) -> Agent:
    return services.agent_create(
        actor=creator, namespace=namespace, name="notify", type="Agents::PostAgent",
        options={"post_url": httpserver.url_for("/hook"), "headers": {"Authorization": "Bearer ${API_TOKEN}"}},
    )  # fmt: skip


def run(agent: Agent, actor) -> Agent:
    services.agent_run(actor=actor, agent=agent)
    agent.refresh_from_db()
    return agent


def test_the_creator_saved_the_options_and_its_secret_is_used(creator, namespace, httpserver, seen) -> None:
    agent = poster(creator, namespace, httpserver)
    assert agent.options_saved_by == creator
    assert run(agent, creator).last_error == ""
    assert seen == ["Bearer creator-token-value"]


def test_an_unknown_secret_is_refused_when_the_options_are_saved(creator, namespace, httpserver) -> None:
    with pytest.raises(ValidationFailed) as raised:
        services.agent_create(
            actor=creator, namespace=namespace, name="x", type="Agents::PostAgent",
            options={"post_url": httpserver.url_for("/hook"), "payload": {"k": "{{ secret('MISSING') }}"}},
        )  # fmt: skip
    assert raised.value.details == [{"field": "options", "reason": "unknown secret 'MISSING'"}]


def test_an_editor_changing_the_options_cannot_reach_the_creators_secret(
    creator, other_editor, namespace, httpserver
) -> None:
    agent = poster(creator, namespace, httpserver)
    changed = {**agent.options, "payload": {"note": "changed"}}
    with pytest.raises(ValidationFailed) as raised:
        services.agent_update(actor=other_editor, agent=agent, options=changed)
    assert raised.value.details == [{"field": "options", "reason": "unknown secret 'API_TOKEN'"}]
    agent.refresh_from_db()
    assert agent.options_saved_by == creator and "payload" not in agent.options


def test_an_editor_saving_the_options_uses_their_own_secret(creator, other_editor, namespace, httpserver, seen) -> None:
    agent = poster(creator, namespace, httpserver)
    secret_set(actor=other_editor, name="API_TOKEN", value="editor-token-value", account=other_editor)

    agent = services.agent_update(actor=other_editor, agent=agent, options={**agent.options, "payload": {"n": 1}})

    assert agent.options_saved_by == other_editor
    assert run(agent, other_editor).last_error == ""
    assert seen == ["Bearer editor-token-value"]


def test_changing_the_type_counts_as_saving_the_options(creator, other_editor, namespace, httpserver) -> None:
    agent = poster(creator, namespace, httpserver)
    with pytest.raises(ValidationFailed):
        services.agent_update(actor=other_editor, agent=agent, type="Agents::EventFormattingAgent")
    secret_set(actor=other_editor, name="API_TOKEN", value="editor-token-value", account=other_editor)
    agent = services.agent_update(
        actor=other_editor, agent=agent, type="Agents::EventFormattingAgent",
        options={"instructions": {"auth": "${API_TOKEN}"}},
    )  # fmt: skip
    assert agent.options_saved_by == other_editor


def test_other_changes_keep_the_saver(creator, other_editor, namespace, httpserver, seen) -> None:
    agent = poster(creator, namespace, httpserver)

    agent = services.agent_update(
        actor=other_editor, agent=agent, name="renamed", schedule="never", disabled=False, options=dict(agent.options)
    )

    assert agent.options_saved_by == creator  # the options given were the same: nothing was saved in them
    run(agent, other_editor)
    assert seen == ["Bearer creator-token-value"]


def test_a_namespace_credential_comes_first(creator, other_editor, namespace, httpserver, seen) -> None:
    agent = poster(creator, namespace, httpserver)
    secret_set(actor=creator, name="API_TOKEN", value="namespace-token-value", namespace=namespace)
    run(agent, creator)
    assert seen == ["Bearer namespace-token-value"]


def test_a_saver_whose_account_is_gone_leaves_only_the_namespace_credentials(
    creator, namespace, httpserver, seen
) -> None:
    agent = poster(creator, namespace, httpserver)
    agent.created_by = None
    agent.save(update_fields=["created_by"])
    Agent.objects.filter(pk=agent.pk).update(options_saved_by=None)
    agent = run(agent, creator)
    assert "API_TOKEN" in agent.last_error
    assert seen == []


def test_the_secret_is_masked_in_what_the_agent_emits(creator, namespace) -> None:
    agent = services.agent_create(
        actor=creator, namespace=namespace, name="fmt", type="Agents::EventFormattingAgent",
        options={"instructions": {"auth": "${API_TOKEN}"}},
    )  # fmt: skip
    source = services.agent_create(actor=creator, namespace=namespace, name="src", type="Agents::ManualEventAgent")
    services.agent_update(actor=creator, agent=agent, source_ids=[str(source.pk)])
    services.message_create(actor=creator, agent=source, payload={"a": 1})
    (message,) = Message.objects.filter(agent=agent)
    assert message.payload == {"auth": "******"}


def _form_value(value):
    if isinstance(value, dict):
        return json.dumps(value)
    return "" if value is None else value


def test_saving_in_the_console_makes_the_saver_the_owner(creator, other_editor, namespace, httpserver) -> None:
    agent = poster(creator, namespace, httpserver)
    model_admin = site._registry[Agent]
    request = RequestFactory().post("/")
    request.user = other_editor
    form_class = model_admin.get_form(request, agent, change=True)
    initial = form_class(instance=agent).initial
    data = {field: _form_value(initial.get(field)) for field in form_class.base_fields}
    data.update(name="renamed", options='{"post_url": "https://example.com/x"}')
    form = form_class(data=data, instance=agent)
    assert form.is_valid(), form.errors
    model_admin.save_model(request, form.save(commit=False), form, change=True)
    agent.refresh_from_db()
    assert (agent.name, agent.options_saved_by) == ("renamed", other_editor)
    assert "options_saved_by" not in form_class.base_fields  # nobody picks whose secrets are used


@pytest.mark.parametrize(
    ("plugin", "options"),
    [
        ("data.template", {"template": "{% raw %}{{ data | list }}{% endraw %}", "data": "${API_TOKEN}"}),
        ("data.transform", {"expression": "reverse(@)", "data": "${API_TOKEN}"}),
    ],
)
def test_a_plugin_agent_that_would_rework_a_secret_gets_none(creator, namespace, plugin, options) -> None:
    agent = services.agent_create(actor=creator, namespace=namespace, name="rework", type=plugin, options=options)
    failed = run(agent, creator)
    assert "cannot take a secret" in failed.last_error
    assert not Message.objects.filter(agent=agent).exists()
    emitted = json.dumps(list(agent.logs.values("text")))
    assert "creator-token-value" not in emitted and "eulav-nekot" not in emitted
