"""`mail.send`: an e-mail through SMTP, with Django's SMTP backend on an explicit connection.

A task's SMTP server is an outbound call like any other: its host passes
`netpolicy.check_host` and the socket goes to the vetted address, while smtplib keeps the
host name for STARTTLS and SMTPS, so the certificate is checked against the name the task
gave. The operator's server (`MILLRACE_SMTP_URL` or Django's mail settings, used when a task
names none) is the platform's own choice and is not subject to the tenants' policy. Header
values are refused when they hold line breaks, addresses are validated, attachments are
bounded, and no error carries the password.
"""

from __future__ import annotations

import functools
import mimetypes
import posixpath
import re
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass
from email import encoders
from email.mime.base import MIMEBase
from email.utils import formataddr, getaddresses, make_msgid
from typing import Any
from urllib.parse import parse_qsl, unquote

from django.conf import global_settings, settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend
from django.core.validators import validate_email

from connectors.netpolicy import OutboundError, check_host, split_url
from connectors.plugins.util import duration_seconds
from connectors.registry import Plugin, PluginContext, Result, StepFailure, register
from core.filerefs import FileRefError

TLS_MODES = ["STARTTLS", "SSL", "NONE"]
KESTRA_TRANSPORT = {"SMTP": "NONE", "SMTPS": "SSL", "SMTP_TLS": "STARTTLS"}
DEFAULT_PORTS = {"SSL": 465, "STARTTLS": 587, "AUTO": 587, "NONE": 25}
DEFAULT_TIMEOUT_SECONDS = 60.0
MAX_TIMEOUT_SECONDS = 600.0
MAX_RECIPIENTS = 100
MAX_ATTACHMENTS = 20
MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024  # all attachments together; most servers refuse more
_LINE_BREAK = re.compile(r"[\r\n\x00]")
_CONTENT_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+")


class MailFailure(StepFailure):
    """A refused input or a failed delivery, worded for the user."""


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    tls: str
    username: str
    password: str
    checked: bool  # a task's server: the network policy applies
    django: bool = False  # no server of the task's or MILLRACE_SMTP_URL's: Django's own mail settings


def server_from_url(url: str) -> Server:
    """The operator's server from `MILLRACE_SMTP_URL`: smtp://user:password@host:port (smtps:// for SSL,
    ?tls=STARTTLS). The setting itself never appears in a message: it holds a password."""
    problem = MailFailure("MILLRACE_SMTP_URL is not a valid SMTP URL (smtp://user:password@host:port).", "SMTP_SETTING")
    try:
        parts = split_url(url.strip())
        port = parts.port
    except (OutboundError, ValueError) as error:
        raise problem from error
    query = dict(parse_qsl(parts.query))
    tls = "SSL" if parts.scheme.lower() == "smtps" else query.get("tls", "NONE").upper()
    if parts.scheme.lower() not in ("smtp", "smtps") or not parts.hostname or tls not in TLS_MODES:
        raise problem
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    return Server(parts.hostname, port or DEFAULT_PORTS[tls], tls, user, password, checked=False)


def _server(inputs: dict[str, Any]) -> Server:
    if "host" not in inputs:
        given = sorted({"port", "tls", "transportStrategy", "username", "password"} & set(inputs))
        if given:
            raise MailFailure(f"{', '.join(given)} without host: name the SMTP server with host.", "INVALID_INPUT")
        if settings.MILLRACE_SMTP_URL:
            return server_from_url(settings.MILLRACE_SMTP_URL)
        if _django_mail_configured():
            tls = "SSL" if settings.EMAIL_USE_SSL else "STARTTLS" if settings.EMAIL_USE_TLS else "NONE"
            user, password = settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD
            return Server(settings.EMAIL_HOST, settings.EMAIL_PORT, tls, user, password, checked=False, django=True)
        message = "No SMTP server: give host, or set MILLRACE_SMTP_URL (or Django's EMAIL_* settings)."
        raise MailFailure(message, "SMTP_NOT_CONFIGURED")
    tls = inputs.get("tls") or KESTRA_TRANSPORT.get(inputs.get("transportStrategy", ""))
    port = inputs.get("port")
    tls = tls or ("SSL" if port == 465 else "AUTO")
    username, password = inputs.get("username", ""), inputs.get("password", "")
    if password and not username:
        raise MailFailure("password without username: give both to log in.", "INVALID_INPUT")
    return Server(inputs["host"], port or DEFAULT_PORTS[tls], tls, username, password, checked=True)


def _django_mail_configured() -> bool:
    """Whether the operator changed any of Django's mail settings from Django's defaults: then they
    are the platform's server (its `EMAIL_BACKEND`, e.g. a test's locmem outbox); else there is none."""
    names = ("EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_USE_TLS", "EMAIL_USE_SSL")
    return any(getattr(settings, name) != getattr(global_settings, name) for name in names)


def _header(value: str, field: str) -> str:
    if _LINE_BREAK.search(value):
        raise MailFailure(f"{field}: line breaks are not allowed in a header (header injection).", "INVALID_INPUT")
    return value


def addresses(value: str | list[str] | None, field: str) -> list[str]:
    """Each address of a field, checked: `Ada <ada@example.com>`, a list, or a comma-separated string."""
    items = [value] if isinstance(value, str) else list(value or [])
    found = []
    for item in items:
        pairs = getaddresses([_header(item, field)])
        if not item.strip() or not pairs:
            raise MailFailure(f"{field}: an address is empty.", "INVALID_INPUT")
        for name, address in pairs:
            try:
                validate_email(address)
            except ValidationError:
                raise MailFailure(f"{field}: '{item[:200]}' is not a valid e-mail address.", "INVALID_INPUT") from None
            found.append(formataddr((name, address), charset="utf-8"))
    return found


def _attachments(inputs: dict[str, Any], ctx: PluginContext) -> list[tuple[str, bytes, str]]:
    """(name, bytes, content type) of each attachment, read from this namespace's files within the cap."""
    entries = inputs.get("attachments") or []
    if len(entries) > MAX_ATTACHMENTS:
        raise MailFailure(f"At most {MAX_ATTACHMENTS} attachments.", "INVALID_INPUT")
    budget, found = MAX_ATTACHMENT_BYTES, []
    for entry in entries:
        entry = {"uri": entry} if isinstance(entry, str) else entry
        uri = entry["uri"]
        name = _header(entry.get("name") or posixpath.basename(uri.rstrip("/")), "attachment name")
        content_type = entry.get("contentType") or mimetypes.guess_type(name)[0] or "application/octet-stream"
        if not _CONTENT_TYPE.fullmatch(content_type):
            raise MailFailure(f"'{content_type[:100]}' is not a content type such as text/csv.", "INVALID_INPUT")
        try:
            with ctx.file_open(uri) as handle:
                content = handle.read(budget + 1)
        except FileNotFoundError:
            raise MailFailure(f"Attachment not found: {uri}", "FILE_NOT_FOUND") from None
        except FileRefError as error:
            raise MailFailure(f"Attachment {uri[:200]!r}: {error}", "INVALID_INPUT") from None
        budget -= len(content)
        if budget < 0:
            limit = MAX_ATTACHMENT_BYTES // (1024 * 1024)
            raise MailFailure(f"The attachments are larger than {limit} MiB together.", "FILE_TOO_LARGE")
        found.append((name, content, content_type))
    return found


def _attachment(name: str, content: bytes, content_type: str) -> MIMEBase:
    """A base64 part: the file arrives byte for byte (a text part's line endings would become CRLF)."""
    part = MIMEBase(*content_type.split("/", 1))
    part.set_payload(content)
    encoders.encode_base64(part)
    part.add_header("Content-Disposition", "attachment", filename=name if name.isascii() else ("utf-8", "", name))
    return part


class _PinnedSMTP(smtplib.SMTP):
    """smtplib's client opening its socket to the checked address; `_host` (the name) stays for STARTTLS.

    With `auto_tls` (a task that names no `tls`) it starts TLS when the server offers it, and
    then refuses to log in over a connection that stayed in clear.
    """

    def __init__(
        self, *args: Any, address: str | None = None, auto_tls: ssl.SSLContext | None = None, **kwargs: Any
    ) -> None:
        self.pinned_address = address  # set first: the constructor connects
        self.auto_tls = auto_tls
        super().__init__(*args, **kwargs)
        if auto_tls is not None:
            self.ehlo_or_helo_if_needed()
            if self.has_extn("starttls"):
                self.starttls(context=auto_tls)

    def login(self, user: str, password: str, **kwargs: Any) -> tuple[int, bytes]:
        if self.auto_tls is not None and not isinstance(self.sock, ssl.SSLSocket):
            message = "The server offers no STARTTLS and the password would travel in clear: set tls: NONE to allow it."
            raise smtplib.SMTPNotSupportedError(message)
        return super().login(user, password, **kwargs)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return super()._get_socket(self.pinned_address or host, port, timeout)


class _PinnedSMTPSSL(smtplib.SMTP_SSL):
    """The same for SMTPS: the socket to the checked address, the certificate checked against `_host`."""

    def __init__(self, *args: Any, address: str | None = None, **kwargs: Any) -> None:
        self.pinned_address = address
        super().__init__(*args, **kwargs)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return super()._get_socket(self.pinned_address or host, port, timeout)


class PinnedEmailBackend(EmailBackend):
    """Django's SMTP backend whose connections go to `address` (None: the host name, resolved as usual)."""

    def __init__(self, *, address: str | None, auto_tls: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.address, self.auto_tls = address, auto_tls

    @property
    def connection_class(self) -> Any:
        if self.use_ssl:
            return functools.partial(_PinnedSMTPSSL, address=self.address)
        return functools.partial(
            _PinnedSMTP, address=self.address, auto_tls=self.ssl_context if self.auto_tls else None
        )


def _smtp_text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _delivery_failure(error: Exception, server: Server) -> MailFailure:
    """An SMTP or network error as a step error: what went wrong, with the server's own words."""
    where = f"{server.host}:{server.port}"
    if isinstance(error, smtplib.SMTPAuthenticationError):
        reply = f"{error.smtp_code} {_smtp_text(error.smtp_error)}"
        return MailFailure(f"The SMTP server {where} refused the login: {reply}", "AUTH_ERROR")
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        refused = "; ".join(f"{who}: {code} {_smtp_text(text)}" for who, (code, text) in error.recipients.items())
        return MailFailure(f"The SMTP server refused the recipients: {refused}", "RECIPIENT_REFUSED")
    if isinstance(error, smtplib.SMTPSenderRefused):
        reply = f"{error.smtp_code} {_smtp_text(error.smtp_error)}"
        return MailFailure(f"The SMTP server refused the sender {error.sender}: {reply}", "SENDER_REFUSED")
    if isinstance(error, smtplib.SMTPResponseException):
        reply = f"{error.smtp_code} {_smtp_text(error.smtp_error)}"
        return MailFailure(f"The SMTP server {where} answered: {reply}", "SMTP_ERROR")
    if isinstance(error, TimeoutError) or isinstance(error.__context__, TimeoutError):  # smtplib rewraps them
        return MailFailure(f"The SMTP server {where} did not answer in time.", "TIMEOUT_ERROR")
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return MailFailure(f"The SMTP server {where} closed the connection: {error}", "CONNECTION_ERROR")
    if isinstance(error, smtplib.SMTPException):
        return MailFailure(f"SMTP with {where} failed: {error}", "SMTP_ERROR")
    if isinstance(error, ssl.SSLError | ssl.CertificateError):
        return MailFailure(f"TLS with the SMTP server {where} failed: {error}", "CONNECTION_ERROR")
    return MailFailure(
        f"Cannot connect to the SMTP server {where}: {getattr(error, 'strerror', None) or error}", "CONNECTION_ERROR"
    )


def _budget(inputs: dict[str, Any], ctx: PluginContext) -> float:
    """Seconds each SMTP exchange may wait: `timeout` (default 60 s, at most 600), within the step's deadline."""
    seconds = DEFAULT_TIMEOUT_SECONDS
    if "timeout" in inputs:
        try:
            seconds = duration_seconds(inputs["timeout"])
        except ValueError as error:
            raise MailFailure(str(error), "INVALID_INPUT") from error
        if not 0 < seconds <= MAX_TIMEOUT_SECONDS:
            raise MailFailure(
                f"timeout must be more than 0 and at most {MAX_TIMEOUT_SECONDS:g} seconds.", "INVALID_INPUT"
            )
    if ctx.deadline is not None:
        seconds = min(seconds, ctx.deadline - time.monotonic())
        if seconds <= 0:
            raise MailFailure("The step's time ran out before the mail could be sent.", "TIMEOUT_ERROR")
    return seconds


def _message(inputs: dict[str, Any], ctx: PluginContext) -> tuple[EmailMultiAlternatives, dict[str, Any]]:
    """The message and the outputs that describe it; every header value and address checked first."""
    senders = addresses(inputs.get("from") or settings.DEFAULT_FROM_EMAIL, "from")
    if len(senders) != 1:
        raise MailFailure("from: give exactly one address.", "INVALID_INPUT")
    to, cc, bcc = (addresses(inputs.get(field), field) for field in ("to", "cc", "bcc"))
    if not 0 < len(to) + len(cc) + len(bcc) <= MAX_RECIPIENTS:
        raise MailFailure(f"Give 1 to {MAX_RECIPIENTS} recipients in to, cc and bcc together.", "INVALID_INPUT")
    subject = _header(inputs.get("subject", ""), "subject")
    text, html = inputs.get("text", inputs.get("plainTextContent")), inputs.get("html", inputs.get("htmlTextContent"))
    message_id = make_msgid(domain=getaddresses(senders)[0][1].rpartition("@")[2])
    email = EmailMultiAlternatives(
        subject,
        text if text is not None else html or "",
        senders[0],
        to,
        bcc=bcc,
        cc=cc,
        headers={"Message-ID": message_id},
    )
    if text is not None and html is not None:
        email.attach_alternative(html, "text/html")
    elif html is not None:
        email.content_subtype = "html"
    files = _attachments(inputs, ctx)
    for name, content, content_type in files:
        email.attach(_attachment(name, content, content_type))
    outputs = {"sent": 0, "messageId": message_id, "from": senders[0], "to": to, "cc": cc, "bcc": bcc}
    return email, {**outputs, "attachments": [name for name, _, _ in files]}


_ADDRESSES = {
    "anyOf": [
        {"type": "string", "maxLength": 20_000},
        {"type": "array", "items": {"type": "string", "maxLength": 1000}, "maxItems": MAX_RECIPIENTS},
    ],
    "description": "An address (`Ada <ada@example.com>`), a comma-separated string of them, or a list.",
}
_ATTACHMENT = {
    "type": "object",
    "properties": {
        "uri": {"type": "string", "minLength": 1, "maxLength": 2048},
        "name": {"type": "string", "minLength": 1, "maxLength": 255},
        "contentType": {"type": "string", "maxLength": 255},
    },
    "required": ["uri"],
}
_BODY = {"type": "string", "maxLength": 10 * 1024 * 1024}
_LIST = {"type": "array", "items": {"type": "string"}}

DOCUMENTATION = """Sends an e-mail through an SMTP server.

- `host`, `port`, `tls` (`STARTTLS`, `SSL` for SMTPS, or `NONE`; unset: SMTPS on port 465,
  else STARTTLS when the server offers it, and no login without it), `username`, `password`
  (put it in a secret: `${SMTP_PASSWORD}`). Without `host`, the operator's server:
  `MILLRACE_SMTP_URL`, else Django's `EMAIL_*` settings when changed from Django's defaults.
- `from` (default: the platform's `DEFAULT_FROM_EMAIL`), `to`, `cc`, `bcc`: an address, a
  comma-separated string, or a list. `bcc` recipients receive the mail but appear in no header.
- `subject`, `text` and/or `html` (both: a multipart message with the two versions).
- `attachments`: file URIs (`millrace:///...`, from a task's outputs or a FILE input), or
  objects `{uri, name, contentType}`; at most 20, 25 MiB together.
- `timeout`: seconds each exchange with the server may wait (default 60).

Line breaks in the subject, an address or an attachment name are refused (header injection),
as are invalid addresses. The server's host is subject to the outbound network policy; the
connection goes to the address checked and TLS checks the certificate against the host name.
SMTP errors (login refused, recipient refused, no connection, timeout) fail the task with the
server's answer, never the password. Outputs: `sent`, `messageId`, the recipients and the
attachment names. Kestra's `MailSend` properties `plainTextContent`, `htmlTextContent` and
`transportStrategy` are understood.
"""

EXAMPLE = """- name: mail-report
  type: mail.send
  properties:
    host: smtp.example.com
    port: 587
    tls: STARTTLS
    username: reports@example.com
    password: "${SMTP_PASSWORD}"
    from: "Reports <reports@example.com>"
    to: [ops@example.com]
    subject: "Daily orders: {{ outputs.orders.size }} rows"
    text: "The daily export is attached."
    attachments:
      - "{{ outputs.orders.uri }}"
"""


@register
class MailSend(Plugin):
    id = "mail.send"
    name = "Send e-mail"
    category = "notify"
    description = "Sends an e-mail (text and/or HTML, with attachments) through an SMTP server."
    aliases = ("io.kestra.plugin.notifications.mail.MailSend", "io.kestra.plugin.email.MailSend")
    documentation = DOCUMENTATION
    example = EXAMPLE
    input_schema = {
        "type": "object",
        "properties": {
            "host": {"type": "string", "minLength": 1, "maxLength": 253, "description": "The SMTP server."},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
            "tls": {"enum": TLS_MODES, "description": "STARTTLS, SSL (SMTPS) or NONE; unset: TLS when offered."},
            "transportStrategy": {"enum": list(KESTRA_TRANSPORT), "description": "Kestra's name for tls."},
            "username": {"type": "string", "maxLength": 1024},
            "password": {"type": "string", "maxLength": 4096},
            "from": {"type": "string", "minLength": 1, "maxLength": 1000},
            "to": _ADDRESSES,
            "cc": _ADDRESSES,
            "bcc": _ADDRESSES,
            "subject": {"type": "string", "maxLength": 2000},
            "text": _BODY,
            "html": _BODY,
            "plainTextContent": _BODY,
            "htmlTextContent": _BODY,
            "attachments": {
                "type": "array",
                "maxItems": MAX_ATTACHMENTS,
                "items": {"anyOf": [{"type": "string", "minLength": 1, "maxLength": 2048}, _ATTACHMENT]},
            },
            "timeout": {"type": ["number", "string"], "description": "Seconds, or an ISO 8601 duration."},
        },
    }
    output_schema = {
        "type": "object",
        "properties": {
            "sent": {"type": "integer", "description": "1 when the server accepted the message."},
            "messageId": {"type": "string"},
            "from": {"type": "string"},
            "to": _LIST,
            "cc": _LIST,
            "bcc": _LIST,
            "attachments": {**_LIST, "description": "The attachments' file names."},
        },
        "required": ["sent", "messageId", "from", "to", "cc", "bcc", "attachments"],
    }

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        password = inputs.get("password") or ""
        try:
            server = _server(inputs)
            password = server.password
            seconds = _budget(inputs, ctx)
            email, outputs = _message(inputs, ctx)
            address = str(check_host(server.host, server.port, scheme="smtp").addresses[0]) if server.checked else None
            email.connection = (
                get_connection(fail_silently=False, timeout=seconds)
                if server.django
                else PinnedEmailBackend(
                    address=address,
                    host=server.host,
                    port=server.port,
                    username=server.username,
                    password=server.password,
                    use_tls=server.tls == "STARTTLS",
                    auto_tls=server.tls == "AUTO",
                    use_ssl=server.tls == "SSL",
                    timeout=seconds,
                    fail_silently=False,
                )
            )
            try:
                outputs["sent"] = email.send(fail_silently=False)
            except (smtplib.SMTPException, OSError) as error:
                raise _delivery_failure(error, server) from error
        except (MailFailure, OutboundError) as error:
            message = str(error).replace(password, "******") if password else str(error)
            ctx.log("error", f"Mail not sent: {message}", {"error_code": error.code})
            return Result.failed(message, code=error.code)
        recipients = len(outputs["to"]) + len(outputs["cc"]) + len(outputs["bcc"])
        ctx.log("info", f"Mail sent through {server.host}:{server.port} to {recipients} recipients")
        return Result.success(outputs)
