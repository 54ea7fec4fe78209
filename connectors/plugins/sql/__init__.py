"""`sql.query`: one SQL statement on PostgreSQL (psycopg) or MySQL/MariaDB (PyMySQL, the `mysql` extra).

A tenant's database is an outbound call: its host passes `netpolicy.check_host` and the driver
connects to the vetted address, the name kept for TLS. The URL is parsed here and only known
parameters reach the driver (libpq's `host=` or `passfile=` could point it at a socket or a
file of the worker). Parameters are bound by the driver, rows stream in, and errors carry the
server's message, never the password.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator
from itertools import islice
from typing import Any
from urllib.parse import quote, quote_plus

from connectors.netpolicy import OutboundError, check_host
from connectors.plugins.sql.cancel import run_cancellable
from connectors.plugins.sql.common import (
    DEFAULT_MAX_ROWS,
    DEFAULT_TIMEOUT_SECONDS,
    FETCH_MODES,
    KESTRA_FETCH,
    MAX_ROWS_LIMIT,
    MAX_TIMEOUT_SECONDS,
    PLACEHOLDER,
    STORE_NAME,
    Consume,
    Query,
    SqlFailure,
    column_names,
    json_safe,
    parse_url,
)
from connectors.plugins.sql.drivers import DRIVERS
from connectors.plugins.util import duration_seconds
from connectors.registry import Plugin, PluginContext, Result, register
from core import storage
from core.filerefs import FileRefError, FileTooLarge

__all__ = ["SqlFailure", "SqlQuery", "column_names", "json_safe", "parse_url"]


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
    names = [match[2:-2] for match in PLACEHOLDER.findall(inputs.get("sql", "")) if match != "%%"]
    return f" (the SQL has the placeholder %({names[0]})s but no parameters were given)" if names else ""


def _masked(text: str, password: str) -> str:
    """The message with the password taken out, as written and URL-encoded (a driver may echo either)."""
    for form in sorted({password, quote(password, safe=""), quote_plus(password)} - {""}, key=len, reverse=True):
        text = text.replace(form, "******")
    return text


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
  read and dropped and `truncated` is true. `timeout`: default 300 s. A cancelled step stops
  its statement on the server.

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
            driver, consume = DRIVERS[db.kind], _collect(fetch, query.max_rows, ctx)
            outputs = run_cancellable(
                lambda cancel: driver(db, target.addresses[0], query, consume, cancel), ctx.is_cancelled
            )
        except (ValueError, OutboundError, SqlFailure) as error:  # FileTooLarge and FileRefError are ValueErrors
            code = getattr(error, "code", _VALUE_ERRORS.get(type(error), "INVALID_INPUT"))
            message = _masked(str(error), password) + _placeholder_hint(code, inputs)
            ctx.log("error", f"SQL statement failed: {message}", {"error_code": code})
            return Result.failed(message, code=code)
        cut = f" (more than maxRows={query.max_rows} came back)" if outputs.get("truncated") else ""
        details = {"duration_ms": round((time.monotonic() - started) * 1000), "fetch": fetch}
        ctx.log("warn" if cut else "info", f"SQL statement on {db.where()} done: {outputs['size']} rows{cut}", details)
        return Result.success(outputs)
