"""`mail.send` bad input: header injection, invalid addresses, attachments, server settings; nothing is sent."""

import time

import pytest
from django.conf import global_settings

from connectors.plugins import mail
from connectors.plugins.mail import MailSend, Server, server_from_url
from connectors.registry import InputError, get_plugin
from tests.connectors.conftest import FakeContext
from tests.connectors.test_mail_plugin import send, smtp  # noqa: F401  (the local SMTP server fixture)

pytestmark = pytest.mark.usefixtures("allow_loopback")


@pytest.mark.parametrize(
    ("inputs", "field"),
    [
        pytest.param({"subject": "Hi\r\nBcc: victim@example.com"}, "subject", id="subject-crlf"),
        pytest.param({"subject": "Hi\nX-Spam: yes"}, "subject", id="subject-lf"),
        pytest.param({"to": "ada@example.com\r\nBcc: victim@example.com"}, "to", id="to"),
        pytest.param({"cc": ["ok@example.com", "x@example.com\nBcc: v@example.com"]}, "cc", id="cc"),
        pytest.param({"bcc": "b@example.com\r"}, "bcc", id="bcc"),
        pytest.param({"from": "Reports <r@example.com>\r\nReply-To: evil@example.com"}, "from", id="from"),
        pytest.param({"subject": "nul\x00byte"}, "subject", id="nul"),
    ],
)
def test_line_breaks_in_headers_are_refused(run_plugin, ctx, smtp, inputs, field):  # noqa: F811
    result = send(run_plugin, smtp.port, **inputs)
    assert result.status == "FAILED"
    assert (result.error_code, result.error) == (
        "INVALID_INPUT",
        f"{field}: line breaks are not allowed in a header (header injection).",
    )
    assert smtp.messages == []


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        pytest.param({"to": "not an address"}, "to: 'not an address' is not a valid e-mail address.", id="words"),
        pytest.param({"to": ["ada@"]}, "to: 'ada@' is not a valid e-mail address.", id="no-domain"),
        pytest.param({"cc": "a@example.com, "}, "cc: 'a@example.com, ' is not a valid e-mail address.", id="trailing"),
        pytest.param({"to": [""]}, "to: an address is empty.", id="empty"),
        pytest.param({"from": "a@example.com, b@example.com"}, "from: give exactly one address.", id="two-senders"),
        pytest.param({"to": []}, "Give 1 to 100 recipients in to, cc and bcc together.", id="nobody"),
        pytest.param(
            {"to": [f"user{n}@example.com" for n in range(60)], "bcc": [f"b{n}@example.com" for n in range(41)]},
            "Give 1 to 100 recipients in to, cc and bcc together.",
            id="too-many",
        ),
    ],
)
def test_invalid_addresses_are_refused(run_plugin, smtp, inputs, message):  # noqa: F811
    result = send(run_plugin, smtp.port, **inputs)
    assert (result.error_code, result.error) == ("INVALID_INPUT", message)
    assert smtp.messages == []


@pytest.mark.parametrize(
    "inputs",
    [
        pytest.param({"to": 42}, id="to-number"),
        pytest.param({"to": [["nested@example.com"]]}, id="to-nested"),
        pytest.param({"port": 0}, id="port-zero"),
        pytest.param({"port": 70000}, id="port-huge"),
        pytest.param({"port": "25"}, id="port-text"),
        pytest.param({"tls": "YES"}, id="tls"),
        pytest.param({"host": ""}, id="host-empty"),
        pytest.param({"subject": "x" * 3000}, id="subject-oversize"),
        pytest.param({"attachments": "millrace:///production/a.csv"}, id="attachments-string"),
        pytest.param({"attachments": [{"name": "a.csv"}]}, id="attachment-no-uri"),
        pytest.param({"attachments": [f"millrace:///production/{n}" for n in range(21)]}, id="attachments-many"),
        pytest.param({"to": [f"u{n}@example.com" for n in range(101)]}, id="to-list-oversize"),
        pytest.param({"text": {"body": "x"}}, id="text-object"),
    ],
)
def test_wrong_types_are_refused_by_the_schema(inputs):
    with pytest.raises(InputError):
        MailSend.check_inputs({"host": "smtp.example.com", "to": "a@example.com", **inputs})


def test_attachments_must_be_this_namespaces_files(run_plugin, ctx, smtp):  # noqa: F811
    missing = send(run_plugin, smtp.port, attachments=["millrace:///production/executions/x/none.csv"])
    assert (missing.error_code, missing.error) == (
        "FILE_NOT_FOUND",
        "Attachment not found: millrace:///production/executions/x/none.csv",
    )
    elsewhere = FakeContext(namespace="elsewhere", write_prefix="elsewhere/executions/e1/tasks/t1")
    theirs = elsewhere.file_write("secret.csv", "a,b\n")
    other = send(run_plugin, smtp.port, attachments=[theirs])
    assert (other.error_code, other.error) == ("FILE_NOT_FOUND", f"Attachment not found: {theirs}")
    local = send(run_plugin, smtp.port, attachments=["/etc/passwd"])
    assert local.error_code == "INVALID_INPUT" and "A file URI starts with millrace:///" in local.error
    dotted = send(run_plugin, smtp.port, attachments=["millrace:///production/../elsewhere/x"])
    assert dotted.error_code == "INVALID_INPUT" and "'..'" in dotted.error
    assert smtp.messages == []


def test_attachment_names_and_types_are_checked(run_plugin, ctx, smtp):  # noqa: F811
    uri = ctx.file_write("a.txt", "x")
    named = send(run_plugin, smtp.port, attachments=[{"uri": uri, "name": "a.txt\r\nX-Evil: 1"}])
    assert named.error == "attachment name: line breaks are not allowed in a header (header injection)."
    for content_type in ("text/plain\r\nX: 1", "text/plain\n", "text", "text/plain; charset=x"):
        typed = send(run_plugin, smtp.port, attachments=[{"uri": uri, "contentType": content_type}])
        assert typed.error_code == "INVALID_INPUT" and "is not a content type" in typed.error, content_type
    assert smtp.messages == []


def test_attachments_over_the_cap_are_refused(run_plugin, ctx, smtp, monkeypatch):  # noqa: F811
    monkeypatch.setattr(mail, "MAX_ATTACHMENT_BYTES", 10)
    first, second = ctx.file_write("a.bin", b"123456"), ctx.file_write("b.bin", b"78901")
    result = send(run_plugin, smtp.port, attachments=[first, second])
    assert result.error_code == "FILE_TOO_LARGE"
    assert smtp.messages == []
    assert send(run_plugin, smtp.port, attachments=[first]).outputs["attachments"] == ["a.bin"]


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        pytest.param({"timeout": 0}, "timeout must be more than 0", id="zero"),
        pytest.param({"timeout": 10**6}, "at most 600 seconds", id="huge"),
        pytest.param({"timeout": "later"}, "'later' is not a duration", id="text"),
        pytest.param({"username": None, "password": "pw-only"}, "password without username", id="password-only"),
    ],
)
def test_bad_settings_fail_before_connecting(run_plugin, smtp, inputs, message):  # noqa: F811
    result = send(run_plugin, smtp.port, **inputs)
    assert result.error_code == "INVALID_INPUT" and message in result.error
    assert smtp.messages == []


def test_a_step_out_of_time_sends_nothing(run_plugin, smtp):  # noqa: F811
    late = FakeContext(deadline=time.monotonic() - 1)
    result = send(run_plugin, smtp.port, late)
    assert (result.error_code, result.error) == (
        "TIMEOUT_ERROR",
        "The step's time ran out before the mail could be sent.",
    )
    assert smtp.messages == []


def test_without_host_or_server_setting_the_step_fails_clearly(run_plugin, settings):
    settings.MILLRACE_SMTP_URL = ""
    settings.EMAIL_BACKEND = global_settings.EMAIL_BACKEND  # Django's mail settings as shipped: no server
    result = run_plugin("mail.send", {"to": "ada@example.com", "text": "x"})
    assert (result.error_code, result.error) == (
        "SMTP_NOT_CONFIGURED",
        "No SMTP server: give host, or set MILLRACE_SMTP_URL (or Django's EMAIL_* settings).",
    )
    settings.MILLRACE_SMTP_URL = "smtp://u:pw@127.0.0.1:2525"
    partial = run_plugin("mail.send", {"to": "ada@example.com", "port": 25, "username": "me", "password": "Sec-123"})
    assert partial.error_code == "INVALID_INPUT"
    assert partial.error == "password, port, username without host: name the SMTP server with host."


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://u:Leaky-Pw-99@mail.example.com", id="scheme"),
        pytest.param("smtp://u:Leaky-Pw-99@mail.example.com:99999", id="port"),
        pytest.param("smtp://u:Leaky-Pw-99@", id="no-host"),
        pytest.param("smtp://u:Leaky-Pw-99@mail.example.com?tls=MAYBE", id="tls"),
    ],
)
def test_a_bad_server_setting_is_named_without_its_password(run_plugin, ctx, settings, url):
    settings.MILLRACE_SMTP_URL = url
    result = run_plugin("mail.send", {"to": "ada@example.com", "text": "x"})
    assert result.error_code == "SMTP_SETTING"
    assert result.error == "MILLRACE_SMTP_URL is not a valid SMTP URL (smtp://user:password@host:port)."
    assert "Leaky-Pw-99" not in ctx.logged_text()


def test_server_urls():
    assert server_from_url("smtp://mail.example.com") == Server("mail.example.com", 25, "NONE", "", "", checked=False)
    assert server_from_url("smtps://a%40b:p%3Aw@Mail.example.com") == Server(
        "mail.example.com", 465, "SSL", "a@b", "p:w", checked=False
    )
    assert server_from_url("smtp://u:p@mail.example.com?tls=starttls").port == 587
    assert server_from_url("smtp://u:p@mail.example.com:2525?tls=STARTTLS").tls == "STARTTLS"


def test_the_manifest_documents_the_plugin():
    plugin = get_plugin("io.kestra.plugin.email.MailSend")
    assert plugin is MailSend and plugin.id == "mail.send"
    manifest = plugin.manifest()
    assert "header injection" in manifest["documentation"] and "type: mail.send" in manifest["example"]
    assert manifest["outputSchema"]["required"] == ["sent", "messageId", "from", "to", "cc", "bcc", "attachments"]
