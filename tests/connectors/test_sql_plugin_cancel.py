"""`sql.query` stops its statement on the server when the step is cancelled, on a real
PostgreSQL and a real MariaDB, well before the statement's own timeout."""

import threading
import time
import uuid

import psycopg
import pymysql
import pytest

from connectors.plugins.sql import cancel as sql_cancel
from tests.connectors.conftest import FakeContext
from tests.connectors.test_sql_plugin import ADMIN, require_service

pytestmark = pytest.mark.usefixtures("allow_loopback")

MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "database": "test"}


def cancel_after(ctx: FakeContext, seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, setattr, (ctx, "cancelled", True))
    timer.start()
    return timer


def postgres_running(marker: str) -> int:
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        return admin.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE state = 'active' AND query LIKE %s AND pid <> pg_backend_pid()",
            (f"%{marker}%",),
        ).fetchone()[0]


def mariadb_running(marker: str) -> int:
    connection = pymysql.connect(**MARIADB)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM information_schema.PROCESSLIST"
                " WHERE COMMAND = 'Query' AND INFO LIKE %s AND ID <> CONNECTION_ID()",
                (f"%{marker}%",),
            )
            return cursor.fetchone()[0]
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("kind", "url", "sleep", "running"),
    [
        ("PostgreSQL", "postgresql://postgres@127.0.0.1:5432/postgres", "pg_sleep(60)", postgres_running),
        ("MariaDB", "mysql://root@127.0.0.1:3306/test", "SLEEP(60)", mariadb_running),
    ],
)
def test_a_cancelled_step_stops_its_statement_on_the_server(run_plugin, ctx, kind, url, sleep, running):
    require_service(kind, 5432 if kind == "PostgreSQL" else 3306)
    marker = f"m{uuid.uuid4().hex[:10]}"
    timer = cancel_after(ctx, 0.5)
    started = time.monotonic()
    result = run_plugin("sql.query", {"url": url, "sql": f"SELECT {sleep} AS {marker}", "timeout": "PT5M"})
    timer.cancel()
    assert time.monotonic() - started < 10  # about a second: the step asks once a second
    assert result.error_code == "CANCELLED", result.error
    assert "cancelled" in result.error
    assert running(marker) == 0  # stopped on the server, not only left behind by the worker


def test_a_statement_shorter_than_a_poll_never_asks(run_plugin, ctx, monkeypatch):
    require_service("PostgreSQL", 5432)
    asked = []
    monkeypatch.setattr(ctx, "is_cancelled", lambda: asked.append(1) or False)
    result = run_plugin("sql.query", {"url": "postgresql://postgres@127.0.0.1:5432/postgres", "sql": "SELECT 1 AS n"})
    assert result.outputs["row"] == {"n": 1}
    assert asked == []


def test_a_step_cancelled_before_the_connection_runs_nothing():
    cancel = sql_cancel.Cancel()
    cancel.request()  # before the driver could say how to stop it: nothing to stop yet
    stopped = []
    with pytest.raises(sql_cancel.SqlFailure) as refused:
        cancel.on(lambda: stopped.append(1))
    assert refused.value.code == "CANCELLED" and stopped == []


def test_a_stop_that_fails_leaves_the_statement_to_its_timeout():
    def work(cancel: sql_cancel.Cancel) -> dict:
        cancel.on(lambda: 1 / 0)  # the server is gone: the stop raises
        time.sleep(1.5)
        return {"size": 0}

    with pytest.raises(sql_cancel.SqlFailure) as stopped:
        sql_cancel.run_cancellable(work, lambda: True)
    assert stopped.value.code == "CANCELLED"


def test_errors_of_the_statement_reach_the_step(monkeypatch):
    monkeypatch.setattr(sql_cancel, "POLL_SECONDS", 0.05)

    def work(cancel: sql_cancel.Cancel) -> dict:
        time.sleep(0.2)
        raise sql_cancel.SqlFailure("syntax error", "SQL_ERROR")

    with pytest.raises(sql_cancel.SqlFailure) as failed:
        sql_cancel.run_cancellable(work, lambda: False)
    assert failed.value.code == "SQL_ERROR"
