"""`sql.query`: one SQL statement on PostgreSQL (psycopg) or MySQL/MariaDB (PyMySQL, the `mysql` extra).

A tenant's database is an outbound call: its host passes `netpolicy.check_host` and the driver
connects to the vetted address, the name kept for TLS. The URL is parsed here and only known
parameters reach the driver (libpq's `host=` or `passfile=` could point it at a socket or a
file of the worker). Parameters are bound by the driver, rows stream in, and errors carry the
server's message, never the password.
"""

from __future__ import annotations

import base64
import json
import math
import re
import socket
import ssl
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import closing, suppress
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from itertools import islice
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote

import psycopg
from django.utils.duration import duration_iso_string
from psycopg.types.json import Jsonb

from connectors.netpolicy import IPAddress, OutboundError, check_host, split_url
from connectors.plugins.util import duration_seconds
from connectors.registry import Plugin, PluginContext, Result, register
from core import storage
from core.filerefs import FileRefError, FileTooLarge

try:
    import pymysql
    from pymysql.cursors import SSCursor
except ImportError:  # MySQL is optional: `pip install millrace[mysql]`
    pymysql = None

FETCH_MODES = ["NONE", "ONE", "ALL", "STORE"]
KESTRA_FETCH = {"FETCH": "ALL", "FETCH_ONE": "ONE", "STORE": "STORE", "NONE": "NONE"}
DEFAULT_MAX_ROWS = 10_000
MAX_ROWS_LIMIT = 1_000_000
DEFAULT_TIMEOUT_SECONDS = 300.0
MAX_TIMEOUT_SECONDS = 3600.0
MAX_CONNECT_SECONDS = 30.0
STORE_NAME = "rows.jsonl"
_NO_FILE = "/dev/null/none"  # a passfile path that cannot exist: libpq reads no ~/.pgpass of the worker
_KINDS = {"postgres": "postgresql", "postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql"}
_PORTS = {"postgresql": 5432, "mysql": 3306}
_SSLMODES = {"postgresql": ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")}
_SSLMODES["mysql"] = ("disable", "require", "verify-ca", "verify-full")
_URL_PARAMETERS = ("sslmode", "application_name")
_MYSQL_TIMEOUTS = {1969, 3024}  # MariaDB max_statement_time, MySQL max_execution_time exceeded
_MYSQL_LOST = {1927, *range(2000, 3000)}  # connection killed; client errors: lost connection, gone away ...
_PLACEHOLDER = re.compile(r"%%|%\([^)]*\)s")


class SqlFailure(Exception):
    """A failed query, already worded for the user; `code` is the step's error code."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


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


def _records(cursor: Any, rows: Iterator[Any]) -> Iterator[dict[str, Any]]:
    keys: list[str] = []
    for row in rows:
        keys = keys or list(column_names([str(column[0]) for column in cursor.description]))
        yield dict(zip(keys, (json_safe(value) for value in row), strict=True))


Consume = Callable[[Iterator[dict[str, Any]]], dict[str, Any]]


def _postgres(db: Database, address: IPAddress, query: Query, consume: Consume) -> dict[str, Any]:
    """Run on PostgreSQL: connect to `address` (libpq's hostaddr) with the name kept for TLS."""
    try:
        connection = psycopg.connect(
            host=db.host,
            hostaddr=str(address),
            port=db.port,
            dbname=db.name or None,
            user=db.user or None,
            password=db.password,  # given even when empty: libpq then reads no PGPASSWORD of the worker
            passfile=_NO_FILE,
            sslmode=db.options.get("sslmode"),
            application_name=db.options.get("application_name", "millrace"),
            connect_timeout=max(2, math.ceil(min(query.seconds, MAX_CONNECT_SECONDS))),
            options=f"-c statement_timeout={max(1, round(query.seconds * 1000))}",
        )
    except psycopg.errors.ConnectionTimeout as error:
        raise SqlFailure(f"Connecting to {db.where()} timed out: {error}", "TIMEOUT_ERROR") from error
    except psycopg.Error as error:
        raise SqlFailure(f"Cannot connect to {db.where()}: {error}", "CONNECTION_ERROR") from error
    parameters = _pg_parameters(query.parameters)
    try:
        with connection:  # commits when the block ends normally, rolls back when it raises
            cursor = connection.cursor()
            if query.fetch == "NONE":
                cursor.execute(query.sql, parameters)
                return _no_rows(cursor.rowcount)
            with closing(cursor.stream(query.sql, parameters)) as rows:  # cancels a stream left early
                return consume(_records(cursor, rows))
    except psycopg.errors.QueryCanceled as error:
        message = f"The statement ran out of time ({query.seconds:g} s): {_pg_message(error)}"
        raise SqlFailure(message, "TIMEOUT_ERROR") from error
    except psycopg.OperationalError as error:
        raise SqlFailure(f"The connection to {db.where()} failed: {_pg_message(error)}", "CONNECTION_ERROR") from error
    except psycopg.Error as error:
        raise SqlFailure(_pg_message(error), "SQL_ERROR") from error


def _no_rows(rowcount: int) -> dict[str, Any]:
    """NONE's outputs: the rows it changed, and `rows`/`row`/`size` empty so every mode but STORE has them."""
    return {"rows": [], "row": None, "size": 0, "rowcount": rowcount}


def _pg_parameters(parameters: dict[str, Any] | None) -> dict[str, Any] | None:
    """Objects (and lists holding any) go as jsonb, lists of scalars as arrays; None without any,
    so a `%` in a statement without parameters is text."""
    if not parameters:
        return None
    return {key: Jsonb(value) if _is_json(value) else value for key, value in parameters.items()}


def _is_json(value: Any) -> bool:
    return isinstance(value, dict) or (isinstance(value, list) and any(isinstance(item, dict | list) for item in value))


def _pg_message(error: psycopg.Error) -> str:
    """The server's message (`relation "x" does not exist`), its SQLSTATE and detail or hint."""
    diag, text = error.diag, str(error)
    message = diag.message_primary or (text.splitlines()[0] if text else type(error).__name__)
    message += f" (SQLSTATE {diag.sqlstate})" if diag.sqlstate else ""
    message += f". Detail: {diag.message_detail}" if diag.message_detail else ""
    return message + (f". Hint: {diag.message_hint}" if diag.message_hint else "")


def _mysql(db: Database, address: IPAddress, query: Query, consume: Consume) -> dict[str, Any]:
    """Run on MySQL/MariaDB: the socket is opened to `address` here and handed to PyMySQL, which keeps
    the name for TLS. `sql_select_limit` bounds a SELECT on the server, not just here."""
    if pymysql is None:
        raise SqlFailure("MySQL needs PyMySQL: install Millrace with the `mysql` extra.", "DRIVER_NOT_INSTALLED")
    connection = pymysql.connect(
        host=db.host,
        port=db.port,
        user=db.user,
        password=db.password,
        database=db.name or None,
        charset="utf8mb4",
        connect_timeout=min(query.seconds, MAX_CONNECT_SECONDS),
        read_timeout=query.seconds + 5,
        write_timeout=query.seconds + 5,
        autocommit=False,
        local_infile=False,  # LOAD DATA LOCAL would let the server read the worker's files
        ssl=_mysql_tls(db.options.get("sslmode")),
        cursorclass=SSCursor,
        defer_connect=True,
    )
    try:
        connection.connect(
            socket.create_connection((str(address), db.port), timeout=min(query.seconds, MAX_CONNECT_SECONDS))
        )
    except (OSError, pymysql.MySQLError) as error:
        raise _mysql_failure(error, query, connecting_to=db.where()) from error
    try:
        return _mysql_run(connection, query, consume)
    except pymysql.MySQLError as error:
        raise _mysql_failure(error, query) from error
    finally:
        if connection.open:
            connection.close()


def _mysql_run(connection: Any, query: Query, consume: Consume) -> dict[str, Any]:
    cursor = connection.cursor()
    if "mariadb" in connection.get_server_info().lower():
        cursor.execute("SET SESSION max_statement_time = %s", (query.seconds,))
    else:
        cursor.execute("SET SESSION max_execution_time = %s", (max(1, round(query.seconds * 1000)),))
    if query.max_rows is not None and query.fetch != "NONE":
        cursor.execute("SET SESSION sql_select_limit = %s", (query.max_rows + 1,))
    parameters = {
        key: json.dumps(value) if isinstance(value, dict) else value for key, value in (query.parameters or {}).items()
    }
    if parameters and "%" in _PLACEHOLDER.sub("", query.sql):  # PyMySQL would format `%s` with the whole dict
        raise SqlFailure("With parameters, write each one %(name)s and a literal % as %%.", "SQL_ERROR")
    try:
        cursor.execute(query.sql, parameters or None)
    except (KeyError, TypeError, ValueError) as error:  # PyMySQL formats parameters in Python
        detail = f"missing parameter {error}" if isinstance(error, KeyError) else str(error)
        raise SqlFailure(f"The parameters do not match the SQL: {detail}.", "SQL_ERROR") from error
    try:
        outputs = (
            _no_rows(cursor.rowcount)
            if query.fetch == "NONE"
            else consume(_records(cursor, iter(cursor.fetchone, None)))
        )
    finally:
        with suppress(pymysql.MySQLError):
            cursor.close()  # reads what is left of the result (bounded by sql_select_limit and the timeout)
    connection.commit()
    return outputs


def _mysql_tls(sslmode: str | None) -> ssl.SSLContext | None:
    """None for `disable` (default); `require` encrypts, `verify-ca` checks the certificate, `verify-full` its name."""
    if sslmode in (None, "disable"):
        return None
    context = ssl.create_default_context()
    context.check_hostname = sslmode == "verify-full"
    context.verify_mode = ssl.CERT_NONE if sslmode == "require" else ssl.CERT_REQUIRED
    return context


def _mysql_failure(error: Exception, query: Query, connecting_to: str | None = None) -> SqlFailure:
    """A PyMySQL or socket error as a step error, worded for the phase it happened in."""
    code = error.args[0] if isinstance(error, pymysql.MySQLError) and len(error.args) == 2 else None
    text = f"{error.args[1]} (MySQL error {code})" if code else getattr(error, "strerror", None) or str(error)
    if isinstance(error, TimeoutError) or code in _MYSQL_TIMEOUTS or (code == 2013 and "timed out" in text):
        what = f"Connecting to {connecting_to}" if connecting_to else "The statement"
        return SqlFailure(f"{what} ran out of time ({query.seconds:g} s): {text}", "TIMEOUT_ERROR")
    if connecting_to:
        return SqlFailure(f"Cannot connect to {connecting_to}: {text}", "CONNECTION_ERROR")
    if code in _MYSQL_LOST:
        return SqlFailure(f"The connection was lost: {text}", "CONNECTION_ERROR")
    return SqlFailure(text, "SQL_ERROR")


def _collect(fetch: str, max_rows: int | None, ctx: PluginContext) -> Consume:
    """How rows are taken: the first, all (up to `max_rows`), or into a JSON-lines file. Rows past the
    cap are read and dropped (JDBC's setMaxRows): the statement completes and commits what it changed."""

    def one(records: Iterator[dict[str, Any]]) -> dict[str, Any]:
        row = next(records, None)
        _rest(records)
        return {"row": row, "rows": [] if row is None else [row], "size": int(row is not None)}

    def all_rows(records: Iterator[dict[str, Any]]) -> dict[str, Any]:
        rows = list(islice(records, max_rows))
        return {"rows": rows, "row": rows[0] if rows else None, "size": len(rows), "truncated": _rest(records)}

    def store(records: Iterator[dict[str, Any]]) -> dict[str, Any]:
        limit, written, size = storage.max_bytes(), 0, 0
        with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
            for record in islice(records, max_rows):
                line = (json.dumps(record, ensure_ascii=False) + "\n").encode()
                written, size = written + len(line), size + 1
                if written > limit:
                    raise FileTooLarge(limit)
                spool.write(line)
            truncated = _rest(records)
            spool.seek(0)
            uri = ctx.file_write(STORE_NAME, spool)
        return {"uri": uri, "size": size, "truncated": truncated}

    return {"ONE": one, "STORE": store}.get(fetch, all_rows)  # NONE reads no rows


def _rest(records: Iterator[dict[str, Any]]) -> bool:
    """Read and drop the rows past the cap, so the statement completes; whether there were any."""
    return sum(1 for _ in records) > 0


def _budget(inputs: dict[str, Any], ctx: PluginContext) -> float:
    """Seconds the statement may run: `timeout` (default 300 s, at most an hour), within the step's deadline."""
    seconds = DEFAULT_TIMEOUT_SECONDS
    if "timeout" in inputs:
        seconds = duration_seconds(inputs["timeout"])
        if not 0 < seconds <= MAX_TIMEOUT_SECONDS:
            raise ValueError(f"timeout must be more than 0 and at most {MAX_TIMEOUT_SECONDS:g} seconds.")
    seconds = seconds if ctx.deadline is None else min(seconds, ctx.deadline - time.monotonic())
    if seconds <= 0:
        raise SqlFailure("The step's time ran out before the query could start.", "TIMEOUT_ERROR")
    return seconds


def _fetch_mode(inputs: dict[str, Any]) -> str:
    modes = {inputs.get("fetch"), KESTRA_FETCH.get(inputs.get("fetchType", ""))} - {None}
    if len(modes) > 1:
        raise ValueError("fetch and fetchType disagree: give one of them.")
    return modes.pop() if modes else "ALL"


def _placeholder_hint(code: str, inputs: dict[str, Any]) -> str:
    """Why a statement with `%(name)s` failed when no parameters came with it: the server only
    says "syntax error at or near %"."""
    if code != "SQL_ERROR" or inputs.get("parameters"):
        return ""
    names = [match[2:-2] for match in _PLACEHOLDER.findall(inputs.get("sql", "")) if match != "%%"]
    return f" (the SQL has the placeholder %({names[0]})s but no parameters were given)" if names else ""


def _masked(text: str, password: str) -> str:
    """The message with the password taken out, as written and URL-encoded (a driver may echo either)."""
    for form in sorted({password, quote(password, safe=""), quote_plus(password)} - {""}, key=len, reverse=True):
        text = text.replace(form, "******")
    return text


_DRIVERS = {"postgresql": _postgres, "mysql": _mysql}
_VALUE_ERRORS = {FileTooLarge: "FILE_TOO_LARGE", FileRefError: "FILE_ERROR"}
_TIMEOUT = {"type": ["number", "string"], "description": "Seconds or an ISO 8601 duration (PT30S); default 300."}
_URL_HELP = "postgresql://user:${DB_PASSWORD}@host:5432/database (postgres://, mysql://, mariadb://, jdbc:)."
_ROW = {"type": "object", "description": "Column name → value; a repeated column name gets a suffix (`a_2`)."}

DOCUMENTATION = """Runs **one SQL statement** on PostgreSQL or (with the `mysql` extra) MySQL/MariaDB,
in a transaction of its own that is committed when it succeeds.

- `url`: `postgresql://user:${DB_PASSWORD}@db.example.com:5432/sales`; also `postgres://`,
  `mysql://`, `mariadb://` and `jdbc:` URLs. URL parameters: `sslmode` and `application_name`.
  The `username` and `password` properties override the URL's.
- `sql`: the statement. `parameters`: named values, written `%(name)s` in it and bound by the
  driver (sent apart on PostgreSQL, escaped by PyMySQL on MySQL): a value is always data, never
  SQL. With parameters, a literal `%` is written `%%`.
- `fetch`: `ALL` (default: `rows`, `row`, `size`), `ONE` (`row`: the first row or null),
  `STORE` (`uri` of a JSON-lines file, for big results) or `NONE` (`rowcount`). Kestra's
  `fetchType` (`FETCH`, `FETCH_ONE`, `STORE`, `NONE`) works too.
- `maxRows`: rows kept at most (default 10,000; `STORE`: the file size limit); the rest are
  read and dropped and `truncated` is true. `timeout`: default 300 s.

Values are JSON: times in ISO 8601, decimals as strings, bytes in base64. The database host
is subject to the outbound network policy like any HTTP call. An SQL error fails the task
with the server's message; the password never appears in errors or logs.
"""

EXAMPLE = """- name: big_orders
  type: sql.query
  properties:
    url: "postgresql://reporting:${DB_PASSWORD}@db.example.com:5432/sales"
    sql: "SELECT id, customer, total, created_at FROM orders WHERE total > %(minimum)s ORDER BY id"
    parameters:
      minimum: 1000
    fetch: ALL
    maxRows: 500
"""


@register
class SqlQuery(Plugin):
    id = "sql.query"
    name = "SQL query"
    category = "data"
    description = (
        "Runs one SQL statement on PostgreSQL or MySQL/MariaDB with named parameters and returns the rows "
        "(all, the first, none, or stored as a JSON-lines file)."
    )
    aliases = (
        "io.kestra.plugin.jdbc.postgresql.Query",
        "io.kestra.plugin.jdbc.mysql.Query",
        "io.kestra.plugin.jdbc.mariadb.Query",
    )
    documentation = DOCUMENTATION
    example = EXAMPLE
    input_schema = {
        "type": "object",
        "properties": {
            "url": {"type": "string", "minLength": 1, "maxLength": 4096, "description": _URL_HELP},
            "username": {"type": "string", "maxLength": 1024, "description": "Overrides the URL's user."},
            "password": {"type": "string", "maxLength": 4096, "description": "Overrides the URL's password."},
            "sql": {"type": "string", "minLength": 1, "maxLength": 1_000_000, "description": "One statement."},
            "parameters": {
                "type": "object",
                "maxProperties": 1000,
                "description": "Named values: %(name)s in the SQL.",
            },
            "fetch": {"enum": FETCH_MODES, "default": "ALL", "description": "NONE, ONE, ALL or STORE."},
            "fetchType": {"enum": list(KESTRA_FETCH), "description": "Kestra's name for fetch (FETCH = ALL)."},
            "maxRows": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_ROWS_LIMIT,
                "description": "Rows kept at most.",
            },
            "timeout": _TIMEOUT,
        },
        "required": ["url", "sql"],
    }
    output_schema = {
        "type": "object",
        "properties": {
            "rows": {"type": "array", "items": _ROW, "description": "ALL and ONE: the rows kept (NONE: empty)."},
            "row": {"anyOf": [_ROW, {"type": "null"}], "description": "ALL and ONE: the first row, or null."},
            "size": {"type": "integer", "minimum": 0, "description": "How many rows were kept (0 for NONE)."},
            "truncated": {"type": "boolean", "description": "ALL and STORE: more rows than maxRows came back."},
            "uri": {"type": "string", "description": "STORE: the JSON-lines file of the rows."},
            "rowcount": {"type": "integer", "description": "NONE: rows the statement changed (-1 if unknown)."},
        },
        "required": ["size"],
    }

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        password = inputs.get("password") or ""
        try:
            db = parse_url(inputs["url"], inputs.get("username"), inputs.get("password"))
            password = db.password
            fetch = _fetch_mode(inputs)
            default_rows = DEFAULT_MAX_ROWS if fetch in ("ALL", "ONE") else None
            max_rows = inputs.get("maxRows", default_rows)
            query = Query(inputs["sql"], inputs.get("parameters"), fetch, max_rows, _budget(inputs, ctx))
            target = check_host(db.host, db.port)
            started = time.monotonic()
            outputs = _DRIVERS[db.kind](db, target.addresses[0], query, _collect(fetch, query.max_rows, ctx))
        except (ValueError, OutboundError, SqlFailure) as error:  # FileTooLarge and FileRefError are ValueErrors
            code = getattr(error, "code", _VALUE_ERRORS.get(type(error), "INVALID_INPUT"))
            message = _masked(str(error), password) + _placeholder_hint(code, inputs)
            ctx.log("error", f"SQL statement failed: {message}", {"error_code": code})
            return Result.failed(message, code=code)
        cut = f" (more than maxRows={query.max_rows} came back)" if outputs.get("truncated") else ""
        details = {"duration_ms": round((time.monotonic() - started) * 1000), "fetch": fetch}
        ctx.log("warn" if cut else "info", f"SQL statement on {db.where()} done: {outputs['size']} rows{cut}", details)
        return Result.success(outputs)
