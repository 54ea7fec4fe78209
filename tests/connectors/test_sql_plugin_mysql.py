"""`sql.query` on a real MariaDB (127.0.0.1:3306, root, empty password, database `test`)."""

import json
import socket
import time
import uuid
from collections.abc import Iterator

import pymysql
import pytest

from connectors.plugins.sql import drivers as sql_drivers
from tests.connectors.test_sql_plugin import require_service

PASSWORD = "My-Pw-5c2e8b"

pytestmark = pytest.mark.usefixtures("allow_loopback")


@pytest.fixture(scope="module")
def direct() -> Iterator[pymysql.connections.Connection]:
    require_service("MariaDB", 3306)
    connection = pymysql.connect(
        host="127.0.0.1", port=3306, user="root", password="", database="test", autocommit=True
    )
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def table(direct) -> Iterator[str]:
    name = f"people_{uuid.uuid4().hex[:10]}"
    with direct.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {name} (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL)")
    yield name
    with direct.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")


@pytest.fixture
def people(direct, table) -> str:
    with direct.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")
        cursor.execute(f"INSERT INTO {table} VALUES (1, 'ada'), (2, 'grace'), (3, 'linus')")
    return table


def count(direct, statement: str) -> int:
    with direct.cursor() as cursor:
        cursor.execute(statement)
        return cursor.fetchone()[0]


URL = "mysql://root@127.0.0.1:3306/test"
PLACEHOLDERS = "With parameters, write each one %(name)s and a literal % as %%."


def test_fetch_all_one_and_store(run_plugin, ctx, people):
    everyone = run_plugin("sql.query", {"url": URL, "sql": f"SELECT id, name FROM {people} ORDER BY id"})
    rows = [{"id": 1, "name": "ada"}, {"id": 2, "name": "grace"}, {"id": 3, "name": "linus"}]
    assert everyone.outputs == {"rows": rows, "row": rows[0], "size": 3, "truncated": False}
    one = run_plugin("sql.query", {"url": URL, "sql": f"SELECT name FROM {people} ORDER BY id", "fetch": "ONE"})
    assert one.outputs == {"row": {"name": "ada"}, "rows": [{"name": "ada"}], "size": 1}
    stored = run_plugin("sql.query", {"url": URL, "sql": f"SELECT * FROM {people} ORDER BY id", "fetch": "STORE"})
    with ctx.file_open(stored.outputs["uri"]) as lines:
        assert [json.loads(line) for line in lines.read().splitlines()] == rows


def test_fetch_none_commits(run_plugin, people, direct):
    result = run_plugin("sql.query", {"url": URL, "sql": f"DELETE FROM {people} WHERE id > 1", "fetch": "NONE"})
    assert result.outputs == {"rows": [], "row": None, "size": 0, "rowcount": 2}
    assert count(direct, f"SELECT COUNT(*) FROM {people}") == 1


def test_mariadb_url_and_kestra_alias(run_plugin, people):
    inputs = {"url": "jdbc:mariadb://127.0.0.1/test", "username": "root", "sql": f"SELECT COUNT(*) AS n FROM {people}"}
    result = run_plugin("io.kestra.plugin.jdbc.mariadb.Query", {**inputs, "fetchType": "FETCH"})
    assert result.outputs["rows"] == [{"n": 3}]


def test_values_come_out_json_safe(run_plugin):
    statement = """SELECT CAST(12.50 AS DECIMAL(10,2)) AS price, DATE '2024-02-29' AS d,
        TIMESTAMP '2024-02-29 13:45:01' AS ts, TIME '26:00:01' AS tm, X'00FF' AS raw, NULL AS nothing,
        JSON_OBJECT('a', 1) AS doc, 1 AS dup, 2 AS dup"""
    result = run_plugin("sql.query", {"url": URL, "sql": statement, "fetch": "ONE"})
    assert result.outputs["row"] == {
        "price": "12.50",
        "d": "2024-02-29",
        "ts": "2024-02-29T13:45:01",
        "tm": "P1DT02H00M01S",
        "raw": "AP8=",
        "nothing": None,
        "doc": '{"a": 1}',
        "dup": 1,
        "dup_2": 2,
    }


def test_named_parameters_are_data_never_sql(run_plugin, people, direct):
    attack = f"x'; DROP TABLE {people}; --"
    echoed = run_plugin("sql.query", {"url": URL, "sql": "SELECT %(v)s AS v", "parameters": {"v": attack}})
    assert echoed.outputs["row"] == {"v": attack}
    statement = f"SELECT id FROM {people} WHERE name = %(name)s OR id IN %(ids)s ORDER BY id"
    result = run_plugin("sql.query", {"url": URL, "sql": statement, "parameters": {"name": "' OR '1'='1", "ids": [3]}})
    assert result.outputs["rows"] == [{"id": 3}]
    assert count(direct, f"SELECT COUNT(*) FROM {people}") == 3


def test_parameters_that_do_not_match_fail_clearly(run_plugin):
    missing = run_plugin("sql.query", {"url": URL, "sql": "SELECT %(a)s, %(b)s", "parameters": {"a": 1}})
    assert (missing.error_code, missing.error) == (
        "SQL_ERROR",
        "The parameters do not match the SQL: missing parameter 'b'.",
    )
    for statement in ("SELECT %s", "SELECT %(a)d", "SELECT '100%' AS p, %(a)s"):
        wrong = run_plugin("sql.query", {"url": URL, "sql": statement, "parameters": {"a": 1}})
        assert (wrong.error_code, wrong.error) == ("SQL_ERROR", PLACEHOLDERS), statement
    percent = run_plugin("sql.query", {"url": URL, "sql": "SELECT '100%%' AS p, %(a)s AS a", "parameters": {"a": 1}})
    assert percent.outputs["rows"] == [{"p": "100%", "a": 1}]
    forgotten = run_plugin("sql.query", {"url": URL, "sql": "SELECT %(a)s"})
    assert forgotten.error.endswith("(the SQL has the placeholder %(a)s but no parameters were given)")


def test_max_rows_is_enforced_by_the_server_too(run_plugin):
    result = run_plugin("sql.query", {"url": URL, "sql": "SELECT seq FROM seq_1_to_1000000", "maxRows": 5})
    assert (result.outputs["size"], result.outputs["truncated"]) == (5, True)
    assert [row["seq"] for row in result.outputs["rows"]] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        pytest.param("SELEC 1", "You have an error in your SQL syntax", id="syntax"),
        pytest.param(
            "SELECT * FROM no_such_table", "Table 'test.no_such_table' doesn't exist (MySQL error 1146)", id="table"
        ),
    ],
)
def test_sql_errors_fail_with_the_servers_message(run_plugin, statement, message):
    result = run_plugin("sql.query", {"url": URL, "sql": statement})
    assert result.error_code == "SQL_ERROR"
    assert message in result.error


def test_the_timeout_stops_a_long_statement(run_plugin):
    started = time.monotonic()
    result = run_plugin("sql.query", {"url": URL, "sql": "SELECT SLEEP(10) AS s", "timeout": 1})
    assert time.monotonic() - started < 5
    assert result.error_code == "TIMEOUT_ERROR", result.error
    assert "max_statement_time exceeded" in result.error


@pytest.fixture
def account(direct) -> Iterator[str]:
    user = f"mr_{uuid.uuid4().hex[:10]}"
    with direct.cursor() as cursor:
        cursor.execute(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (PASSWORD,))
        cursor.execute(f"CREATE USER '{user}'@'localhost' IDENTIFIED BY %s", (PASSWORD,))
    yield user
    with direct.cursor() as cursor:
        cursor.execute(f"DROP USER IF EXISTS '{user}'@'%', '{user}'@'localhost'")


def test_a_password_from_a_secret_logs_in_and_a_wrong_one_is_refused(run_plugin, ctx, account):
    good = run_plugin("sql.query", {"url": f"mysql://{account}:{PASSWORD}@127.0.0.1/", "sql": "SELECT 1 AS one"})
    assert good.outputs["rows"] == [{"one": 1}], good.error
    wrong = run_plugin("sql.query", {"url": f"mysql://{account}:x{PASSWORD}@127.0.0.1/", "sql": "SELECT 1"})
    assert wrong.error_code == "CONNECTION_ERROR"
    assert "Access denied" in wrong.error and "(MySQL error 1045)" in wrong.error
    assert PASSWORD not in wrong.error + ctx.logged_text()


def test_tls_required_from_a_server_without_it_fails(run_plugin):
    result = run_plugin("sql.query", {"url": URL + "?sslmode=require", "sql": "SELECT 1"})
    assert result.error_code == "CONNECTION_ERROR"
    assert result.error.startswith("Cannot connect to mysql://127.0.0.1:3306/test:")


def test_loopback_is_refused_without_an_allowed_network(run_plugin, settings):
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = []
    result = run_plugin("sql.query", {"url": URL, "sql": "SELECT 1"})
    assert result.error_code == "NETWORK_POLICY_ERROR"


def test_the_checked_address_is_the_one_connected_to(run_plugin, monkeypatch):
    real = socket.getaddrinfo

    def resolver(host, *args, **kwargs):
        return real("127.0.0.1" if host == "mysql.rebind.invalid" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    result = run_plugin("sql.query", {"url": "mysql://root@mysql.rebind.invalid/test", "sql": "SELECT 7 AS n"})
    assert result.outputs["rows"] == [{"n": 7}], result.error


def test_connection_refused(run_plugin):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_plugin("sql.query", {"url": f"mysql://root@127.0.0.1:{port}/test", "sql": "SELECT 1"})
    assert result.error_code == "CONNECTION_ERROR"
    assert result.error == f"Cannot connect to mysql://127.0.0.1:{port}/test: Connection refused"


def test_without_the_driver_mysql_fails_clearly(run_plugin, monkeypatch):
    monkeypatch.setattr(sql_drivers, "pymysql", None)
    result = run_plugin("sql.query", {"url": URL, "sql": "SELECT 1"})
    assert result.error_code == "DRIVER_NOT_INSTALLED"
    assert "install Millrace with the `mysql` extra" in result.error


def test_a_connection_lost_mid_statement(run_plugin):
    result = run_plugin("sql.query", {"url": URL, "sql": "KILL CONNECTION_ID()", "fetch": "NONE"})
    assert (result.error_code, result.error) == (
        "CONNECTION_ERROR",
        "The connection was lost: Connection was killed (MySQL error 1927)",
    )


def test_a_server_that_never_answers_times_out(run_plugin):
    with socket.socket() as silent:  # accepts connections, never speaks
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port, started = silent.getsockname()[1], time.monotonic()
        result = run_plugin(
            "sql.query", {"url": f"mysql://root@127.0.0.1:{port}/test", "sql": "SELECT 1", "timeout": 1}
        )
    assert time.monotonic() - started < 10
    assert result.error_code == "TIMEOUT_ERROR"
    assert result.error.startswith(f"Connecting to mysql://127.0.0.1:{port}/test ran out of time (1 s)")
