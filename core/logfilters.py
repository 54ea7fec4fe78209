"""Keep credentials out of the logs.

uvicorn logs every request line and WebSocket handshake with its query string, so a socket
opened with `?token=<jwt>` would put the token in the log; callback tokens and webhook
secrets travel in paths. `TokenRedactingFilter` replaces such values by `***` in a record's
message and arguments (argument by argument, so formatters that unpack them, like uvicorn's
access formatter, still work). `install_token_redaction` puts it on uvicorn's and Django's
request loggers (their records do not reach the root handlers) and on the root handlers.
"""

import logging
import re
from collections.abc import Mapping
from typing import Any

REDACTED = "***"

#: Loggers that write request lines or paths. Filters on a logger see only its own records,
#: so each is named; the root handlers get the filter too, for everything that propagates.
REQUEST_LOGGERS = (
    "uvicorn.access",
    "uvicorn.error",
    "django.request",
    "django.server",
    "django.channels.server",
    "daphne.server",
)

#: A %-placeholder of a log message is not a value: its argument is redacted on its own.
_NOT_PLACEHOLDER = r"(?!%(?:\(\w+\))?[-#0 +]*[\d.*]*[sdrifxXeEgGc])"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # ?token=... and ?access_token=... (the WebSocket token of browsers), up to the next separator
    (re.compile(rf"(?i)([?&;](?:access_)?token=){_NOT_PLACEHOLDER}[^&;#\s\"'<>]+"), rf"\1{REDACTED}"),
    # credentials in paths: connector callbacks, agent and trigger webhook secrets
    (re.compile(rf"(/v1/callbacks/|/webhook/){_NOT_PLACEHOLDER}[^/?#\s\"'<>]+"), rf"\1{REDACTED}"),
    # Authorization values, wherever a header is shown
    (re.compile(r"\b([Bb]earer|BEARER|Basic)(\s+)[A-Za-z0-9._~+/=-]{8,}"), rf"\1\2{REDACTED}"),
    (
        re.compile(rf"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(?!bearer\b|basic\b){_NOT_PLACEHOLDER}[^\s\"',;]+"),
        rf"\1{REDACTED}",
    ),
    # a bare JWT or personal API token anywhere (a subprotocol header, an error message)
    (re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), REDACTED),
    (re.compile(r"\bmr_[A-Za-z0-9_-]{16,}"), f"mr_{REDACTED}"),
)


def redact(text: str) -> str:
    """`text` with every token value it carries replaced by `***`."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_arg(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)
    cleaned = redact(text)
    return value if cleaned == text else cleaned


class TokenRedactingFilter(logging.Filter):
    """Replace token values in a record's message and arguments; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {key: _redact_arg(value) for key, value in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(value) for value in record.args)
        return True


def install_token_redaction() -> None:
    """Put the filter on the request loggers and the root handlers (once each)."""
    targets: list[logging.Filterer] = [logging.getLogger(name) for name in REQUEST_LOGGERS]
    targets += logging.getLogger().handlers
    for target in targets:
        if not any(isinstance(existing, TokenRedactingFilter) for existing in target.filters):
            target.addFilter(TokenRedactingFilter())
