"""`sql.query`'s two drivers: PostgreSQL (psycopg) and MySQL/MariaDB (PyMySQL, the `mysql` extra).

Each connects to the address the network policy vetted, the host name kept for TLS, binds the
parameters itself and hands the rows, as they stream in, to the fetch mode's consumer.
"""

from __future__ import annotations

import json
import math
import socket
import ssl
from contextlib import closing, suppress
from functools import partial
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from connectors.netpolicy import IPAddress
from connectors.plugins.sql.cancel import Cancel
from connectors.plugins.sql.common import (
    MAX_CONNECT_SECONDS,
    PLACEHOLDER,
    Consume,
    Database,
    Query,
    SqlFailure,
    records,
)

try:
    import pymysql
    from pymysql.cursors import SSCursor
except ImportError:  # MySQL is optional: `pip install millrace[mysql]`
    pymysql = None

_NO_FILE = "/dev/null/none"  # a passfile path that cannot exist: libpq reads no ~/.pgpass of the worker
_MYSQL_TIMEOUTS = {1969, 3024}  # MariaDB max_statement_time, MySQL max_execution_time exceeded
_MYSQL_LOST = {1927, *range(2000, 3000)}  # connection killed; client errors: lost connection, gone away ...


def _postgres(db: Database, address: IPAddress, query: Query, consume: Consume, cancel: Cancel) -> dict[str, Any]:
    """Run on PostgreSQL: connect to `address` (libpq's hostaddr) with the name kept for TLS;
    a cancel sends the server libpq's cancel request."""
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
        cancel.on(connection.cancel_safe)
    except SqlFailure:
        connection.close()
        raise
    try:
        with connection:  # commits when the block ends normally, rolls back when it raises
            cursor = connection.cursor()
            if query.fetch == "NONE":
                cursor.execute(query.sql, parameters)
                return _no_rows(cursor.rowcount)
            with closing(cursor.stream(query.sql, parameters)) as rows:  # cancels a stream left early
                return consume(records(cursor, rows))
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


def _mysql(db: Database, address: IPAddress, query: Query, consume: Consume, cancel: Cancel) -> dict[str, Any]:
    """Run on MySQL/MariaDB: the socket is opened to `address` here and handed to PyMySQL, which keeps
    the name for TLS. `sql_select_limit` bounds a SELECT on the server, not just here. A cancel
    kills the statement (`KILL QUERY`) from a second connection, as the `mysql` client does."""
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
        cancel.on(partial(_mysql_kill, db, address, connection.thread_id(), query.seconds))
        return _mysql_run(connection, query, consume)
    except pymysql.MySQLError as error:
        raise _mysql_failure(error, query) from error
    finally:
        if connection.open:
            connection.close()


def _mysql_kill(db: Database, address: IPAddress, thread_id: int, seconds: float) -> None:
    """Stop the statement of the connection `thread_id` (`KILL QUERY`; the connection stays)."""
    killer = pymysql.connect(
        host=db.host,
        port=db.port,
        user=db.user,
        password=db.password,
        connect_timeout=min(seconds, MAX_CONNECT_SECONDS),
        read_timeout=MAX_CONNECT_SECONDS,
        local_infile=False,
        ssl=_mysql_tls(db.options.get("sslmode")),
        defer_connect=True,
    )
    killer.connect(socket.create_connection((str(address), db.port), timeout=min(seconds, MAX_CONNECT_SECONDS)))
    try:
        with killer.cursor() as cursor:
            cursor.execute("KILL QUERY %s", (thread_id,))
    finally:
        killer.close()


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
    if parameters and "%" in PLACEHOLDER.sub("", query.sql):  # PyMySQL would format `%s` with the whole dict
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
            else consume(records(cursor, iter(cursor.fetchone, None)))
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


DRIVERS = {"postgresql": _postgres, "mysql": _mysql}
