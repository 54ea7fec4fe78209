"""`mail.send` against real local SMTP servers (aiosmtpd): plain, with AUTH, with STARTTLS and SMTPS."""

import datetime
import email
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.policy import default as default_policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.connectors.conftest import FakeContext
from tests.connectors.test_sql_plugin import ON_CI

USER, PASSWORD = "mailer", "Smtp-Pw-41d8e2"

pytestmark = [
    pytest.mark.usefixtures("allow_loopback"),
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),  # the AUTH test server
]


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps what it received; `refuse` rejects recipients with a 550."""

    port: int = 0
    messages: list[tuple[str, list[str], Message]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.original_content, policy=default_policy)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    good = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=good, handled=False)  # not handled: aiosmtpd answers 535 itself


def start(inbox: Inbox, **options) -> Controller:
    inbox.port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port, **options)
    try:
        controller.start()
    except Exception as error:  # aiosmtpd could not start its thread or bind here
        if ON_CI:
            pytest.fail(f"CI=true: the local SMTP server did not start: {error}")
        pytest.skip(f"the local SMTP server did not start: {error}")
    return controller


@pytest.fixture
def smtp() -> Iterator[Inbox]:
    inbox = Inbox()
    controller = start(inbox)
    yield inbox
    controller.stop()


@pytest.fixture
def smtp_auth() -> Iterator[Inbox]:
    inbox = Inbox()
    controller = start(inbox, authenticator=authenticate, auth_required=True, auth_require_tls=False)
    yield inbox
    controller.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for `localhost` (and 127.0.0.1): its file and its key's."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture
def smtp_starttls(certificate) -> Iterator[Inbox]:
    inbox = Inbox()
    controller = start(
        inbox, tls_context=server_context(certificate), require_starttls=True, authenticator=authenticate
    )
    yield inbox
    controller.stop()


@pytest.fixture
def smtp_ssl(certificate) -> Iterator[Inbox]:
    inbox = Inbox()
    controller = start(inbox, ssl_context=server_context(certificate), server_hostname="localhost")
    yield inbox
    controller.stop()


@pytest.fixture
def trust(certificate, monkeypatch) -> None:
    """Make the test certificate a trusted root for this process's default TLS contexts."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))


def send(run_plugin, port: int, context: FakeContext | None = None, **inputs):
    """mail.send to the local server in plain text unless `inputs` say otherwise (None leaves a field out)."""
    base = {"host": "127.0.0.1", "port": port, "tls": "NONE", "from": "Reports <reports@example.com>"}
    fields = {**base, "to": "ada@example.com", "subject": "Hi", "text": "Hello", **inputs}
    return run_plugin("mail.send", {key: value for key, value in fields.items() if value is not None}, context)


def test_text_html_attachments_cc_and_bcc_are_delivered(run_plugin, ctx, smtp):
    csv = ctx.file_write("report/orders.csv", "id,total\n1,9.50\n")
    raw = ctx.file_write("blob.bin", b"\x00\x01\x02")
    result = send(
        run_plugin,
        smtp.port,
        to=["Ada <ada@example.com>", "grace@example.com", '"Doe, Zoë" <zoe@example.com>'],
        cc="linus@example.com",
        bcc=["hidden@example.com"],
        subject="Daily report é 7 rows",
        text="Plain body",
        html="<p>HTML body</p>",
        attachments=[csv, {"uri": raw, "name": "data.bin", "contentType": "application/x-test"}],
    )
    assert result.status == "SUCCESS", result.error
    outputs = result.outputs
    assert outputs["sent"] == 1
    assert outputs["to"][:2] == ["Ada <ada@example.com>", "grace@example.com"]
    assert (outputs["cc"], outputs["bcc"]) == (["linus@example.com"], ["hidden@example.com"])
    assert outputs["attachments"] == ["orders.csv", "data.bin"]
    [(sender, recipients, message)] = smtp.messages
    assert sender == "reports@example.com"
    assert sorted(recipients) == [f"{who}@example.com" for who in ("ada", "grace", "hidden", "linus", "zoe")]
    assert [(to.display_name, to.addr_spec) for to in message["To"].addresses][2] == ("Doe, Zoë", "zoe@example.com")
    assert message["Subject"] == "Daily report é 7 rows"
    assert message["Message-ID"] == outputs["messageId"] and outputs["messageId"].endswith("@example.com>")
    assert "hidden@example.com" not in message.as_string()  # bcc travels in the envelope only
    assert message["Cc"] == "linus@example.com"
    assert message.get_body(("plain",)).get_content().strip() == "Plain body"
    assert message.get_body(("html",)).get_content().strip() == "<p>HTML body</p>"
    files = {part.get_filename(): part for part in message.iter_attachments()}
    assert files["orders.csv"].get_content_type() == "text/csv"
    assert files["orders.csv"].get_content() == "id,total\n1,9.50\n"
    assert files["data.bin"].get_content_type() == "application/x-test"
    assert files["data.bin"].get_content() == b"\x00\x01\x02"
    assert ctx.logs[-1] == ("info", f"Mail sent through 127.0.0.1:{smtp.port} to 5 recipients", {})


def test_html_only_and_a_comma_separated_to(run_plugin, smtp):
    result = send(run_plugin, smtp.port, to="a@example.com, B <b@example.com>", text=None, html="<b>bold</b>")
    assert result.outputs["to"] == ["a@example.com", "B <b@example.com>"], result.error
    [(_, recipients, message)] = smtp.messages
    assert recipients == ["a@example.com", "b@example.com"]
    assert message.get_content_type() == "text/html" and "<b>bold</b>" in message.get_content()


def test_a_login_with_the_secret_password_and_a_wrong_one(run_plugin, ctx, smtp_auth):
    good = send(run_plugin, smtp_auth.port, username=USER, password=PASSWORD)
    assert good.outputs["sent"] == 1, good.error
    assert PASSWORD not in repr(good.outputs) + ctx.logged_text()
    wrong = send(run_plugin, smtp_auth.port, username=USER, password=PASSWORD + "x")
    assert wrong.error_code == "AUTH_ERROR"
    assert wrong.error.startswith(f"The SMTP server 127.0.0.1:{smtp_auth.port} refused the login: 535")
    assert PASSWORD not in wrong.error + ctx.logged_text()
    anonymous = send(run_plugin, smtp_auth.port)
    assert anonymous.error_code == "SENDER_REFUSED"
    assert anonymous.error.endswith(
        "refused the sender Reports <reports@example.com>: 530 5.7.0 Authentication required"
    )
    assert len(smtp_auth.messages) == 1


def test_a_refused_recipient_fails_the_step(run_plugin, smtp):
    smtp.refuse = {"nobody@example.com"}
    result = send(run_plugin, smtp.port, to=["nobody@example.com"])
    assert result.error_code == "RECIPIENT_REFUSED"
    assert result.error == "The SMTP server refused the recipients: nobody@example.com: 550 5.1.1 No such user here"
    assert smtp.messages == []


def test_starttls_checks_the_certificate_against_the_host_name(run_plugin, smtp_starttls, trust, monkeypatch):
    """The name only the policy's resolver knows: the socket goes to the checked address, TLS
    checks the certificate against `localhost`, the name the task gave."""
    real = socket.getaddrinfo

    def resolver(host, *args, **kwargs):
        return real("127.0.0.1", *args, **kwargs) if host == "localhost" else real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    inputs = {"host": "localhost", "tls": "STARTTLS", "username": USER, "password": PASSWORD}
    result = send(run_plugin, smtp_starttls.port, **inputs)
    assert result.outputs["sent"] == 1, result.error
    assert len(smtp_starttls.messages) == 1


def test_starttls_refuses_an_untrusted_certificate(run_plugin, ctx, smtp_starttls):
    result = send(run_plugin, smtp_starttls.port, host="localhost", tls="STARTTLS", username=USER, password=PASSWORD)
    assert result.error_code == "CONNECTION_ERROR"
    assert "TLS with the SMTP server localhost" in result.error and "CERTIFICATE_VERIFY_FAILED" in result.error
    assert smtp_starttls.messages == []
    assert PASSWORD not in result.error + ctx.logged_text()


def test_starttls_refuses_a_certificate_for_another_name(run_plugin, smtp_starttls, trust, monkeypatch):
    """The right server, reached through a name its certificate does not hold: refused."""
    real = socket.getaddrinfo

    def resolver(host, *args, **kwargs):
        return real("127.0.0.1" if host == "mail.other.invalid" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    result = send(run_plugin, smtp_starttls.port, host="mail.other.invalid", tls="STARTTLS")
    assert result.error_code == "CONNECTION_ERROR"
    assert "Hostname mismatch" in result.error and "mail.other.invalid" in result.error
    assert smtp_starttls.messages == []


def test_plain_text_to_a_server_that_requires_starttls_is_refused(run_plugin, smtp_starttls):
    result = send(run_plugin, smtp_starttls.port)
    assert result.error_code in ("SMTP_ERROR", "SENDER_REFUSED")
    assert "530" in result.error and "STARTTLS" in result.error


def test_starttls_to_a_server_without_it_fails(run_plugin, smtp):
    result = send(run_plugin, smtp.port, tls="STARTTLS")
    assert (result.error_code, result.error) == (
        "SMTP_ERROR",
        f"SMTP with 127.0.0.1:{smtp.port} failed: STARTTLS extension not supported by server.",
    )


def test_smtps(run_plugin, smtp_ssl, trust):
    result = send(run_plugin, smtp_ssl.port, host="localhost", tls="SSL")
    assert result.outputs["sent"] == 1, result.error
    assert len(smtp_ssl.messages) == 1


def test_ssl_to_a_plain_server_fails_as_a_connection_error(run_plugin, smtp):
    result = send(run_plugin, smtp.port, tls="SSL", timeout=5)
    assert result.error_code == "CONNECTION_ERROR"
    assert result.error.startswith(f"TLS with the SMTP server 127.0.0.1:{smtp.port} failed")


def test_connection_refused_and_timeout(run_plugin):
    refused = send(run_plugin, free_port())
    assert refused.error_code == "CONNECTION_ERROR"
    assert refused.error.startswith("Cannot connect to the SMTP server 127.0.0.1:") and "refused" in refused.error
    with socket.socket() as silent:  # accepts connections, never says hello
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port, started = silent.getsockname()[1], time.monotonic()
        hung = send(run_plugin, port, timeout=1)
    assert time.monotonic() - started < 5
    assert (hung.error_code, hung.error) == (
        "TIMEOUT_ERROR",
        f"The SMTP server 127.0.0.1:{port} did not answer in time.",
    )


def test_loopback_is_refused_without_an_allowed_network(run_plugin, smtp, settings):
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = []
    for host in ("127.0.0.1", "localhost", "0x7f.1"):
        result = send(run_plugin, smtp.port, host=host)
        assert result.error_code == "NETWORK_POLICY_ERROR", result.error
        assert "loopback address not allowed by MILLRACE_HTTP_ALLOWED_NETWORKS" in result.error
    assert smtp.messages == []


def test_the_operators_server_is_the_default(run_plugin, smtp_auth, settings):
    """MILLRACE_SMTP_URL is the platform's own server: the tenants' network policy does not apply."""
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = []
    settings.MILLRACE_SMTP_URL = f"smtp://{USER}:{PASSWORD.replace('-', '%2D')}@127.0.0.1:{smtp_auth.port}"
    result = run_plugin("mail.send", {"from": "a@example.com", "to": ["ada@example.com"], "text": "via default"})
    assert result.outputs["sent"] == 1, result.error
    [(_, recipients, message)] = smtp_auth.messages
    assert recipients == ["ada@example.com"] and message.get_content().strip() == "via default"


def test_without_the_setting_djangos_mail_settings_are_the_server(run_plugin, smtp_auth, settings, ctx):
    """Django's EMAIL_* settings, once changed from Django's defaults, are the operator's server too."""
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = []  # the operator's server: the tenants' policy does not apply
    settings.MILLRACE_SMTP_URL = ""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_auth.port
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = USER, PASSWORD
    result = run_plugin("mail.send", {"from": "a@example.com", "to": "ada@example.com", "text": "via Django"})
    assert result.outputs["sent"] == 1, result.error
    [(_, recipients, message)] = smtp_auth.messages
    assert recipients == ["ada@example.com"] and message.get_content().strip() == "via Django"

    settings.EMAIL_HOST_PASSWORD = "Wrong-Django-Pw-5"
    refused = run_plugin("mail.send", {"from": "a@example.com", "to": "ada@example.com", "text": "x"})
    assert refused.error_code == "AUTH_ERROR" and "Wrong-Django-Pw-5" not in refused.error + ctx.logged_text()


def test_djangos_in_memory_outbox_receives_what_no_server_was_named_for(run_plugin, settings, mailoutbox):
    settings.MILLRACE_SMTP_URL = ""  # pytest-django's locmem EMAIL_BACKEND stays
    result = run_plugin("mail.send", {"from": "a@example.com", "to": ["ada@example.com"], "subject": "S", "text": "T"})
    assert result.outputs["sent"] == 1, result.error
    [sent] = mailoutbox
    assert (sent.subject, sent.body, sent.to) == ("S", "T", ["ada@example.com"])


def test_the_default_sender_and_the_kestra_alias(run_plugin, smtp, settings):
    settings.DEFAULT_FROM_EMAIL = "Millrace <noreply@millrace.example>"
    inputs = {"host": "127.0.0.1", "port": smtp.port, "transportStrategy": "SMTP", "to": "ada@example.com"}
    inputs |= {"subject": "Kestra", "plainTextContent": "plain", "htmlTextContent": "<i>html</i>"}
    result = run_plugin("io.kestra.plugin.notifications.mail.MailSend", inputs)
    assert result.outputs["from"] == "Millrace <noreply@millrace.example>", result.error
    [(sender, _, message)] = smtp.messages
    assert sender == "noreply@millrace.example"
    assert message.get_body(("html",)).get_content().strip() == "<i>html</i>"


def test_without_tls_set_starttls_is_used_when_offered(run_plugin, smtp_starttls, trust):
    """The server refuses mail before STARTTLS: delivery proves the upgrade happened."""
    result = send(run_plugin, smtp_starttls.port, host="localhost", tls=None, username=USER, password=PASSWORD)
    assert result.outputs["sent"] == 1, result.error
    assert len(smtp_starttls.messages) == 1


def test_without_tls_set_an_untrusted_certificate_is_not_skipped(run_plugin, smtp_starttls):
    result = send(run_plugin, smtp_starttls.port, host="localhost", tls=None)
    assert result.error_code == "CONNECTION_ERROR" and "CERTIFICATE_VERIFY_FAILED" in result.error
    assert smtp_starttls.messages == []


def test_without_tls_set_a_server_without_it_gets_mail_but_no_password(run_plugin, ctx, smtp, smtp_auth):
    plain = send(run_plugin, smtp.port, tls=None)
    assert plain.outputs["sent"] == 1, plain.error
    refused = send(run_plugin, smtp_auth.port, tls=None, username=USER, password=PASSWORD)
    assert refused.error_code == "SMTP_ERROR"
    assert refused.error.endswith(
        "The server offers no STARTTLS and the password would travel in clear: set tls: NONE to allow it."
    )
    assert smtp_auth.messages == []
    assert PASSWORD not in refused.error + ctx.logged_text()
