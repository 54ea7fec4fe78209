"""Huginn's ShellCommandAgent, EmailAgent and SlackAgent over script.shell, mail.send and notify.slack."""

import json

import pytest
from werkzeug import Request, Response

from agents import runtime, services
from core.errors import ValidationFailed
from executions.models import Message
from tests.agents.conftest import T0
from tests.connectors.test_mail_plugin import Inbox, start


@pytest.fixture
def smtp(settings):
    inbox = Inbox()
    controller = start(inbox)
    settings.MILLRACE_SMTP_URL = f"smtp://127.0.0.1:{inbox.port}?tls=NONE"
    yield inbox
    controller.stop()


def _emitted(agent) -> list[dict]:
    return [message.payload for message in Message.objects.filter(agent=agent).order_by("id")]


def test_shell_command_agent_emits_huginn_fields(make_agent):
    options = {"path": "/srv/app", "command": "echo hello; echo oops >&2", "unbundle": False,
               "suppress_on_failure": False, "expected_update_period_in_days": 1}  # fmt: skip
    shell = make_agent("shell", "Agents::ShellCommandAgent", options, schedule="every_1m")
    assert runtime.tick(now=T0) == 1
    assert _emitted(shell) == [  # stripped, as Huginn strips them
        {"command": "echo hello; echo oops >&2", "path": "/srv/app", "exit_status": 0, "errors": "oops",
         "output": "hello"}
    ]  # fmt: skip


def test_shell_command_agent_feeds_stdin_to_the_command(make_agent):
    shell = make_agent("shell", "Agents::ShellCommandAgent", {"command": "tr a-z A-Z", "stdin": "line one\nline two"},
                       schedule="every_1m")  # fmt: skip
    silent = make_agent("silent", "Agents::ShellCommandAgent", {"command": "cat"}, schedule="every_1m")
    runtime.tick(now=T0)
    assert _emitted(shell)[0]["output"] == "LINE ONE\nLINE TWO"
    assert _emitted(silent)[0]["output"] == ""  # no stdin: an empty one, never the worker's


def test_shell_command_agent_argument_list_is_quoted(make_agent):
    shell = make_agent("shell", "Agents::ShellCommandAgent", {"command": ["printf", "%s|", "a b", "$HOME;x"]},
                       schedule="every_1m")  # fmt: skip
    runtime.tick(now=T0)
    (payload,) = _emitted(shell)
    assert payload["output"] == "a b|$HOME;x|" and payload["exit_status"] == 0


def test_shell_command_agent_failure_is_emitted_unless_suppressed(make_agent):
    loud = make_agent("loud", "Agents::ShellCommandAgent", {"command": "echo bad >&2; exit 3"}, schedule="every_1m")
    quiet = make_agent("quiet", "Agents::ShellCommandAgent",
                       {"command": "exit 4", "suppress_on_failure": "true"}, schedule="every_1m")  # fmt: skip
    empty = make_agent("empty", "Agents::ShellCommandAgent",
                       {"command": "true", "suppress_on_empty_output": True}, schedule="every_1m")  # fmt: skip
    runtime.tick(now=T0)
    (payload,) = _emitted(loud)
    assert payload["exit_status"] == 3 and payload["errors"] == "bad"
    assert _emitted(quiet) == [] and _emitted(empty) == []


def test_shell_command_agent_refused_when_scripts_are_off(make_agent, settings):
    settings.MILLRACE_SCRIPTS_ENABLED = False
    shell = make_agent("shell", "Agents::ShellCommandAgent", {"command": "echo hi"}, schedule="every_1m")
    runtime.tick(now=T0)
    shell.refresh_from_db()
    assert _emitted(shell) == [] and "MILLRACE_SCRIPTS_ENABLED" in shell.last_error


def test_shell_command_agent_sees_none_of_the_servers_environment(make_agent, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "server-secret-key")
    monkeypatch.setenv("DATABASE_URL", "postgres://secret@db/x")
    shell = make_agent("shell", "Agents::ShellCommandAgent", {"command": "env"}, schedule="every_1m")
    runtime.tick(now=T0)
    (payload,) = _emitted(shell)
    assert "server-secret-key" not in payload["output"] and "DATABASE_URL" not in payload["output"]


def test_email_agent_sends_each_message_through_the_servers_smtp(make_agent, actor, smtp):
    source = make_agent("source", "Agents::ManualEventAgent")
    make_agent("mail", "Agents::EmailAgent",
               {"recipients": ["ops@example.com", "dev@example.com"], "subject": "Alert: {{ message.title }}",
                "headline": "Something happened", "from": "millrace@example.com"},
               sources=(source,))  # fmt: skip
    services.message_create(actor=actor, agent=source, payload={"title": "disk", "free": 3})
    assert [(sender, recipients) for sender, recipients, _ in smtp.messages] == [
        ("millrace@example.com", ["ops@example.com"]),
        ("millrace@example.com", ["dev@example.com"]),
    ]  # one mail per recipient, as Huginn sends them: none shows the other's address
    for (_, _, message), shown in zip(smtp.messages, ("ops@example.com", "dev@example.com"), strict=True):
        assert message["To"] == shown and message["Cc"] is None
        assert message["Subject"] == "Alert: disk"
        body = message.get_body(("plain",)).get_content()
        assert body.startswith("Something happened") and "title: disk" in body and "free: 3" in body


def test_email_agent_stops_at_a_refused_recipient_and_says_which(make_agent, actor, smtp):
    smtp.refuse = {"gone@example.com"}
    source = make_agent("source", "Agents::ManualEventAgent")
    recipients = "ops@example.com, gone@example.com, dev@example.com"
    mail = make_agent("mail", "Agents::EmailAgent", {"recipients": recipients}, sources=(source,))
    services.message_create(actor=actor, agent=source, payload={"title": "disk"})
    assert [recipients for _, recipients, _ in smtp.messages] == [["ops@example.com"]]
    mail.refresh_from_db()
    assert "gone@example.com" in mail.last_error and "550" in mail.last_error


def test_email_agent_without_recipients_mails_its_owner(make_agent, actor, smtp):
    actor.email = "owner@example.com"
    actor.save(update_fields=["email"])
    source = make_agent("source", "Agents::ManualEventAgent")
    mail = make_agent("mail", "Agents::EmailAgent", {"expected_receive_period_in_days": "2"}, sources=(source,))
    services.message_create(actor=actor, agent=source, payload={"title": "disk"})
    ((_, recipients, message),) = smtp.messages
    assert recipients == ["owner@example.com"] and message["Subject"] == "You have a notification!"

    actor.email = ""
    actor.save(update_fields=["email"])
    services.message_create(actor=actor, agent=source, payload={"title": "again"})
    mail.refresh_from_db()
    assert len(smtp.messages) == 1 and "no e-mail address" in mail.last_error


def test_email_agent_uses_djangos_mail_settings_without_the_setting(make_agent, actor, settings, mailoutbox):
    settings.MILLRACE_SMTP_URL = ""  # pytest-django's in-memory EMAIL_BACKEND is the server's mail setting
    source = make_agent("source", "Agents::ManualEventAgent")
    make_agent("mail", "Agents::EmailAgent", {"recipients": "ops@example.com", "subject": "{{ message.title }}",
                                              "body": "n={{ message.n }}"}, sources=(source,))  # fmt: skip
    services.message_create(actor=actor, agent=source, payload={"title": "disk", "n": 3})
    [sent] = mailoutbox
    assert (sent.to, sent.subject, sent.body) == (["ops@example.com"], "disk", "n=3")


def test_email_agent_html_body(make_agent, actor, smtp):
    source = make_agent("source", "Agents::ManualEventAgent")
    make_agent("mail", "Agents::EmailAgent",
               {"recipients": "ops@example.com", "body": "<b>{{ message.n }}</b>", "content_type": "text/html",
                "from": "millrace@example.com"},
               sources=(source,))  # fmt: skip
    services.message_create(actor=actor, agent=source, payload={"n": 7})
    ((_, _, message),) = smtp.messages
    assert message.get_body(("html",)).get_content().strip() == "<b>7</b>"


def test_slack_agent_posts_huginn_options(make_agent, actor, httpserver):
    posted: list[dict] = []

    def receive(request: Request) -> Response:
        posted.append(json.loads(request.data))
        return Response("ok")

    httpserver.expect_request("/hooks/T1", method="POST").respond_with_handler(receive)
    source = make_agent("source", "Agents::ManualEventAgent")
    make_agent("slack", "Agents::SlackAgent",
               {"webhook_url": httpserver.url_for("/hooks/T1"), "message": "New: {{ message.title }}",
                "channel": "#ops", "username": "millrace", "icon": ":robot_face:"},
               sources=(source,))  # fmt: skip
    services.message_create(actor=actor, agent=source, payload={"title": "beta"})
    assert posted == [{"text": "New: beta", "channel": "#ops", "username": "millrace", "icon_emoji": ":robot_face:"}]


@pytest.mark.parametrize(
    ("type_name", "options", "problem"),
    [
        ("Agents::ShellCommandAgent", {}, "command"),
        ("Agents::ShellCommandAgent", {"command": ["echo", 3]}, "command"),
        ("Agents::EmailAgent", {"recipients": 5}, "recipients"),
        ("Agents::EmailAgent", {"recipients": ["a@example.com", 5]}, "recipients"),
        ("Agents::ShellCommandAgent", {"command": "cat", "stdin": {"a": 1}}, "stdin"),
        ("Agents::EmailAgent", {"recipients": "a@example.com", "content_type": "image/png"}, "content_type"),
        ("Agents::SlackAgent", {"message": "x"}, "webhook_url"),
        ("Agents::SlackAgent", {"webhook_url": "https://hooks.example.com/x"}, "message"),
    ],
)
def test_bad_options_are_refused_when_saved(make_agent, type_name, options, problem):
    with pytest.raises(ValidationFailed) as caught:
        make_agent("bad", type_name, options)
    assert problem in str(caught.value.detail if hasattr(caught.value, "detail") else caught.value)


def test_slack_agent_webhook_url_obeys_the_network_policy(make_agent, settings):
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = []
    with pytest.raises(ValidationFailed):
        make_agent("slack", "Agents::SlackAgent", {"webhook_url": "http://127.0.0.1:9/x", "message": "m"})
