"""What `sql.query`'s modules share: its limits, the database URL it accepts, the rows' JSON form."""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from urllib.parse import parse_qsl, unquote

from django.utils.duration import duration_iso_string

from connectors.netpolicy import OutboundError, split_url
from connectors.registry import StepFailure

FETCH_MODES = ["NONE", "ONE", "ALL", "STORE"]
KESTRA_FETCH = {"FETCH": "ALL", "FETCH_ONE": "ONE", "STORE": "STORE", "NONE": "NONE"}
DEFAULT_MAX_ROWS = 10_000
MAX_ROWS_LIMIT = 1_000_000
DEFAULT_TIMEOUT_SECONDS = 300.0
MAX_TIMEOUT_SECONDS = 3600.0
MAX_CONNECT_SECONDS = 30.0
STORE_NAME = "rows.jsonl"
_KINDS = {"postgres": "postgresql", "postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql"}
_PORTS = {"postgresql": 5432, "mysql": 3306}
_SSLMODES = {"postgresql": ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")}
_SSLMODES["mysql"] = ("disable", "require", "verify-ca", "verify-full")
_URL_PARAMETERS = ("sslmode", "application_name")
PLACEHOLDER = re.compile(r"%%|%\([^)]*\)s")


class SqlFailure(StepFailure):
    """A failed query, already worded for the user."""


@dataclass(frozen=True)
class Database:
    """Where to connect and as whom, from the URL and the `username`/`password` properties."""

    kind: str
    host: str
    port: int
    name: str
    user: str
    password: str
    options: dict[str, str]  # the URL's parameters

    def where(self) -> str:  # for messages and logs: no user, no password
        return f"{self.kind}://{self.host}:{self.port}/{self.name}"


@dataclass(frozen=True)
class Query:
    sql: str
    parameters: dict[str, Any] | None
    fetch: str
    max_rows: int | None
    seconds: float


def parse_url(url: str, username: str | None = None, password: str | None = None) -> Database:
    """A Database from `postgresql://`, `postgres://`, `mysql://` or `mariadb://` (`jdbc:` in front is
    dropped); raises ValueError with a message that never quotes the URL (it may hold the password)."""
    text = url.strip()
    if text[:5].lower() == "jdbc:":
        text = text[5:]
    try:
        parts = split_url(text)
        port = parts.port
    except (OutboundError, ValueError) as error:
        raise ValueError("The database URL cannot be parsed (check its port and brackets).") from error
    scheme = parts.scheme.lower()
    kind = _KINDS.get(scheme)
    if kind is None:
        raise ValueError(f"Unsupported database URL scheme '{scheme[:20]}': use postgresql:// or mysql://.")
    if not parts.hostname:
        raise ValueError("The database URL has no host (unix sockets are not supported).")
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(options) - set(_URL_PARAMETERS))
    if unknown:
        raise ValueError(f"Unsupported database URL parameter '{unknown[0][:40]}': only sslmode and application_name.")
    if options.get("sslmode", "disable") not in _SSLMODES[kind]:
        raise ValueError(f"Unsupported sslmode for {kind}: use one of {', '.join(_SSLMODES[kind])}.")
    name = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
    if kind == "mysql" and "/" in name:
        raise ValueError("A MySQL database name cannot contain '/'.")
    return Database(
        kind=kind,
        host=parts.hostname,
        port=port or _PORTS[kind],
        name=name,
        user=unquote(parts.username or "") if username is None else username,
        password=unquote(parts.password or "") if password is None else password,
        options=options,
    )


def json_safe(value: Any) -> Any:
    """A column value as JSON: times in ISO 8601, decimals as strings (no precision lost), bytes in
    base64, UUIDs, addresses, ranges and other objects as their text; NaN and infinities as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime | date | clock_time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return duration_iso_string(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, set | frozenset):  # MySQL's SET type
        return sorted(str(item) for item in value)
    return str(value)


def column_names(names: list[str]) -> Iterator[str]:
    """Column names as row keys; a repeated name (`SELECT 1 AS a, 2 AS a`) becomes `a_2`, not lost."""
    seen: dict[str, int] = {}
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        yield name if seen[name] == 1 else f"{name}_{seen[name]}"


def records(cursor: Any, rows: Iterator[Any]) -> Iterator[dict[str, Any]]:
    keys: list[str] = []
    for row in rows:
        keys = keys or list(column_names([str(column[0]) for column in cursor.description]))
        yield dict(zip(keys, (json_safe(value) for value in row), strict=True))


Consume = Callable[[Iterator[dict[str, Any]]], dict[str, Any]]
