"""`sql.query` on a real PostgreSQL (127.0.0.1:5432, user postgres, trust): a scratch database per module."""

import json
import os
import socket
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql as pgsql

from tests.connectors.conftest import FakeContext

ON_CI = os.environ.get("CI", "").lower() == "true"
PASSWORD = "Pw-7f3a9c1e"  # trust auth ignores it; it must still never come out
ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"

pytestmark = pytest.mark.usefixtures("allow_loopback")


def require_service(name: str, port: int) -> None:
    """Skip when the local service is down; under CI=true that is a failure."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        if ON_CI:
            pytest.fail(f"CI=true: {name} at 127.0.0.1:{port} is unreachable")
        pytest.skip(f"{name} at 127.0.0.1:{port} is unreachable")


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A fresh database's name, dropped after the module."""
    require_service("PostgreSQL", 5432)
    name = f"millrace_sqltest_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
    yield name
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name)))


@pytest.fixture
def url(database: str) -> str:
    return f"postgresql://postgres:{PASSWORD}@127.0.0.1:5432/{database}"


@pytest.fixture
def direct(database: str) -> Iterator[psycopg.Connection]:
    """A connection of the test's own, to set tables up and look at what the plugin left."""
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={database}", autocommit=True) as connection:
        yield connection


@pytest.fixture
def people(direct) -> str:
    table = f"people_{uuid.uuid4().hex[:8]}"
    direct.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, name text NOT NULL)")
    direct.execute(f"INSERT INTO {table} VALUES (1, 'ada'), (2, 'grace'), (3, 'linus')")
    return table


def assert_clean(result, ctx: FakeContext) -> None:
    text = json.dumps([result.outputs, result.error]) + ctx.logged_text()
    assert PASSWORD not in text


def test_fetch_all_returns_rows_first_row_and_size(run_plugin, ctx, url, people):
    result = run_plugin("sql.query", {"url": url, "sql": f"SELECT id, name FROM {people} ORDER BY id"})
    assert result.status == "SUCCESS", result.error
    rows = [{"id": 1, "name": "ada"}, {"id": 2, "name": "grace"}, {"id": 3, "name": "linus"}]
    assert result.outputs == {"rows": rows, "row": rows[0], "size": 3, "truncated": False}
    assert ctx.logs[-1][0] == "info" and "3 rows" in ctx.logs[-1][1]
    assert_clean(result, ctx)


def test_fetch_one_and_an_empty_result(run_plugin, url, people):
    one = run_plugin("sql.query", {"url": url, "sql": f"SELECT name FROM {people} ORDER BY id DESC", "fetch": "ONE"})
    assert one.outputs == {"row": {"name": "linus"}, "rows": [{"name": "linus"}], "size": 1}
    none = run_plugin("sql.query", {"url": url, "sql": f"SELECT * FROM {people} WHERE id < 0", "fetch": "ONE"})
    assert none.outputs == {"row": None, "rows": [], "size": 0}
    empty = run_plugin("sql.query", {"url": url, "sql": f"SELECT * FROM {people} WHERE id < 0"})
    assert empty.outputs == {"rows": [], "row": None, "size": 0, "truncated": False}


def test_fetch_none_commits_and_reports_the_rowcount(run_plugin, url, people, direct):
    result = run_plugin("sql.query", {"url": url, "sql": f"UPDATE {people} SET name = upper(name)", "fetch": "NONE"})
    assert result.outputs == {"rows": [], "row": None, "size": 0, "rowcount": 3}
    assert direct.execute(f"SELECT name FROM {people} ORDER BY id").fetchall() == [("ADA",), ("GRACE",), ("LINUS",)]


def test_fetch_none_runs_a_script_of_statements(run_plugin, url, direct):
    table = f"script_{uuid.uuid4().hex[:8]}"
    script = f"CREATE TABLE {table} (x int); INSERT INTO {table} VALUES (1), (2); INSERT INTO {table} VALUES (3)"
    assert run_plugin("sql.query", {"url": url, "sql": script, "fetch": "NONE"}).status == "SUCCESS"
    assert direct.execute(f"SELECT count(*) FROM {table}").fetchone() == (3,)


def test_fetch_store_writes_json_lines(run_plugin, ctx, url, people):
    result = run_plugin("sql.query", {"url": url, "sql": f"SELECT * FROM {people} ORDER BY id", "fetch": "STORE"})
    assert result.status == "SUCCESS", result.error
    assert result.outputs["size"] == 3 and result.outputs["truncated"] is False
    assert result.outputs["uri"].startswith("millrace:///production/executions/")
    assert result.outputs["uri"].endswith("/rows.jsonl")
    with ctx.file_open(result.outputs["uri"]) as stored:
        lines = stored.read().decode().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"id": 1, "name": "ada"},
        {"id": 2, "name": "grace"},
        {"id": 3, "name": "linus"},
    ]


def test_kestra_fetch_type_and_alias_with_username_property(run_plugin, database, people):
    inputs = {
        "url": f"jdbc:postgresql://127.0.0.1:5432/{database}",
        "username": "postgres",
        "password": PASSWORD,
        "sql": f"SELECT name FROM {people} WHERE id = 2",
        "fetchType": "FETCH_ONE",
    }
    result = run_plugin("io.kestra.plugin.jdbc.postgresql.Query", inputs)
    assert result.outputs == {"row": {"name": "grace"}, "rows": [{"name": "grace"}], "size": 1}


def test_values_come_out_json_safe(run_plugin, url):
    statement = """SELECT 42::int AS i, 9007199254740993::bigint AS big, 12.50::numeric(10,2) AS price,
        'NaN'::float8 AS nan, 1.5::float8 AS f, true AS yes, NULL AS nothing, 'é'::text AS t,
        DATE '2024-02-29' AS d, TIME '13:45:01' AS tm, TIMESTAMP '2024-02-29 13:45:01.5' AS ts,
        TIMESTAMPTZ '2024-02-29 13:45:01+02' AS tstz, INTERVAL '1 day 2 hours' AS iv,
        '\\x00ff10'::bytea AS raw, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS id,
        '{"a": [1, {"b": null}]}'::jsonb AS doc, ARRAY[1, 2, 3] AS arr, '10.1.2.3/32'::inet AS ip,
        1 AS dup, 2 AS dup"""
    result = run_plugin("sql.query", {"url": url, "sql": statement, "fetch": "ONE"})
    assert result.status == "SUCCESS", result.error
    assert result.outputs["row"] == {
        "i": 42,
        "big": 9007199254740993,
        "price": "12.50",
        "nan": "nan",
        "f": 1.5,
        "yes": True,
        "nothing": None,
        "t": "é",
        "d": "2024-02-29",
        "tm": "13:45:01",
        "ts": "2024-02-29T13:45:01.500000",
        "tstz": "2024-02-29T11:45:01+00:00",
        "iv": "P1DT02H00M00S",
        "raw": "AP8Q",
        "id": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "doc": {"a": [1, {"b": None}]},
        "arr": [1, 2, 3],
        "ip": "10.1.2.3",
        "dup": 1,
        "dup_2": 2,
    }
    json.dumps(result.outputs, allow_nan=False)  # strict JSON: no NaN, no Decimal, no bytes


def test_named_parameters_are_data_never_sql(run_plugin, url, people, direct):
    attack = f"x'; DROP TABLE {people}; --"
    echoed = run_plugin("sql.query", {"url": url, "sql": "SELECT %(v)s AS v", "parameters": {"v": attack}})
    assert echoed.outputs["row"] == {"v": attack}
    widened = f"SELECT id FROM {people} WHERE name = %(name)s"
    result = run_plugin("sql.query", {"url": url, "sql": widened, "parameters": {"name": "' OR '1'='1"}})
    assert result.outputs["size"] == 0
    assert direct.execute(f"SELECT count(*) FROM {people}").fetchone() == (3,)


def test_parameter_types_lists_objects_and_nulls(run_plugin, url, people):
    statement = (
        f"SELECT (SELECT array_agg(name ORDER BY id) FROM {people} WHERE id = ANY(%(ids)s)) AS names, "
        "%(doc)s->>'k' AS k, %(nothing)s::text IS NULL AS is_null, %(flag)s AS flag, '100%%' AS pct"
    )
    parameters = {"ids": [1, 3], "doc": {"k": "v"}, "nothing": None, "flag": False}
    result = run_plugin("sql.query", {"url": url, "sql": statement, "parameters": parameters, "fetch": "ONE"})
    assert result.outputs["row"] == {"names": ["ada", "linus"], "k": "v", "is_null": True, "flag": False, "pct": "100%"}
    literal = run_plugin("sql.query", {"url": url, "sql": "SELECT '100%' AS pct", "fetch": "ONE"})
    assert literal.outputs["row"] == {"pct": "100%"}  # without parameters a % is just text


def test_max_rows_cuts_and_says_so(run_plugin, ctx, url):
    statement = "SELECT g FROM generate_series(1, 25) AS g"
    result = run_plugin("sql.query", {"url": url, "sql": statement, "maxRows": 10})
    assert result.outputs["size"] == 10 and result.outputs["truncated"] is True
    assert [row["g"] for row in result.outputs["rows"]] == list(range(1, 11))
    assert ctx.logs[-1][0] == "warn" and "maxRows=10" in ctx.logs[-1][1]
    stored = run_plugin("sql.query", {"url": url, "sql": statement, "maxRows": 4, "fetch": "STORE"})
    assert (stored.outputs["size"], stored.outputs["truncated"]) == (4, True)


def test_the_default_cap_holds_without_max_rows(run_plugin, url):
    result = run_plugin("sql.query", {"url": url, "sql": "SELECT g FROM generate_series(1, 10001) AS g"})
    assert (result.outputs["size"], result.outputs["truncated"]) == (10000, True)


def test_a_statement_cut_by_max_rows_still_completes(run_plugin, url, people, direct):
    """Rows past the cap are dropped, not the statement's work (JDBC's setMaxRows)."""
    statement = f"UPDATE {people} SET name = name || '!' RETURNING id"
    result = run_plugin("sql.query", {"url": url, "sql": statement, "maxRows": 1})
    assert (result.outputs["size"], result.outputs["truncated"]) == (1, True)
    assert direct.execute(f"SELECT count(*) FROM {people} WHERE name LIKE '%!'").fetchone() == (3,)


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        pytest.param("SELEC 1", 'syntax error at or near "SELEC" (SQLSTATE 42601)', id="syntax"),
        pytest.param(
            "SELECT * FROM no_such_table", 'relation "no_such_table" does not exist (SQLSTATE 42P01)', id="table"
        ),
        pytest.param("SELECT 1/0", "division by zero (SQLSTATE 22012)", id="division"),
        pytest.param("SELECT 1; SELECT 2", "cannot insert multiple commands into a prepared statement", id="two"),
        pytest.param("SELECT %(a)s, %(b)s", "query parameter missing: b", id="missing-parameter"),
    ],
)
def test_sql_errors_fail_with_the_servers_message(run_plugin, ctx, url, statement, message):
    result = run_plugin("sql.query", {"url": url, "sql": statement, "parameters": {"a": 1}})
    assert result.status == "FAILED"
    assert result.error_code == "SQL_ERROR"
    assert message in result.error
    assert ctx.logs[-1][0] == "error" and message in ctx.logs[-1][1]
    assert_clean(result, ctx)


def test_placeholders_without_parameters_say_so(run_plugin, url):
    result = run_plugin("sql.query", {"url": url, "sql": "SELECT %(customer)s AS c, '5%%' AS p"})
    assert result.error_code == "SQL_ERROR"
    assert result.error.startswith('syntax error at or near "%"')
    assert result.error.endswith("(the SQL has the placeholder %(customer)s but no parameters were given)")
    plain = run_plugin("sql.query", {"url": url, "sql": "SELECT '5%' AS p, nope"})
    assert "placeholder" not in plain.error


def test_a_failed_statement_leaves_nothing_written(run_plugin, url, people, direct):
    statement = f"INSERT INTO {people} VALUES (10, 'new'), (11, NULL)"
    result = run_plugin("sql.query", {"url": url, "sql": statement, "fetch": "NONE"})
    assert result.error_code == "SQL_ERROR" and "not-null constraint" in result.error
    assert direct.execute(f"SELECT count(*) FROM {people}").fetchone() == (3,)


def test_the_timeout_cancels_a_long_statement(run_plugin, url):
    started = time.monotonic()
    result = run_plugin("sql.query", {"url": url, "sql": "SELECT pg_sleep(10)", "timeout": 1})
    assert time.monotonic() - started < 5
    assert result.error_code == "TIMEOUT_ERROR"
    assert "canceling statement due to statement timeout" in result.error


def test_the_steps_deadline_bounds_the_statement(run_plugin, ctx, url):
    ctx.deadline = time.monotonic() + 1.5
    result = run_plugin("sql.query", {"url": url, "sql": "SELECT pg_sleep(10)", "timeout": "PT1M"})
    assert result.error_code == "TIMEOUT_ERROR"
    ctx.deadline = time.monotonic() - 1
    late = run_plugin("sql.query", {"url": url, "sql": "SELECT 1"})
    assert (late.error_code, late.error) == ("TIMEOUT_ERROR", "The step's time ran out before the query could start.")


def test_loopback_is_refused_without_an_allowed_network(run_plugin, ctx, url, settings):
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = []
    for where in (url, url.replace("127.0.0.1", "localhost"), url.replace("127.0.0.1", "[::1]")):
        result = run_plugin("sql.query", {"url": where, "sql": "SELECT 1"})
        assert result.error_code == "NETWORK_POLICY_ERROR", result.error
        assert "loopback address not allowed by MILLRACE_HTTP_ALLOWED_NETWORKS" in result.error
    assert_clean(result, ctx)


def test_the_checked_address_is_the_one_connected_to(run_plugin, url, monkeypatch):
    """A name only the policy's resolver knows: libpq resolving it again would fail, so success
    means the connection went to the vetted address (no DNS rebinding between check and connect)."""
    real = socket.getaddrinfo

    def resolver(host, *args, **kwargs):
        return real("127.0.0.1" if host == "pg.rebind.invalid" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    where = url.replace("127.0.0.1", "pg.rebind.invalid")
    result = run_plugin("sql.query", {"url": where, "sql": "SELECT inet_server_addr()::text AS server", "fetch": "ONE"})
    assert result.status == "SUCCESS", result.error
    assert result.outputs["row"] == {"server": "127.0.0.1/32"}


def test_connection_errors_name_the_database_without_the_password(run_plugin, ctx, database):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/{database}"
    refused = run_plugin("sql.query", {"url": url, "sql": "SELECT 1"})
    assert refused.error_code == "CONNECTION_ERROR"
    assert refused.error.startswith(f"Cannot connect to postgresql://127.0.0.1:{port}/{database}:")
    assert_clean(refused, ctx)


def test_an_error_echoing_the_password_is_masked(run_plugin, ctx):
    """The server quotes the database name; here that name is the password."""
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:5432/{PASSWORD}"
    require_service("PostgreSQL", 5432)
    result = run_plugin("sql.query", {"url": url, "sql": "SELECT 1"})
    assert result.error_code == "CONNECTION_ERROR"
    assert 'database "******" does not exist' in result.error
    assert_clean(result, ctx)


def test_store_over_the_file_cap_fails_and_keeps_nothing(run_plugin, ctx, url, settings):
    settings.MILLRACE_MAX_FILE_BYTES = 100
    statement = "SELECT g, repeat('x', 20) AS pad FROM generate_series(1, 50) AS g"
    result = run_plugin("sql.query", {"url": url, "sql": statement, "fetch": "STORE"})
    assert result.error_code == "FILE_TOO_LARGE"
    assert "larger than the limit of 100 bytes" in result.error


def test_store_where_no_file_may_be_written(run_plugin, url):
    nowhere = FakeContext(write_prefix=None)
    result = run_plugin("sql.query", {"url": url, "sql": "SELECT 1 AS x", "fetch": "STORE"}, nowhere)
    assert (result.error_code, result.error) == ("FILE_ERROR", "Files can only be written by a flow's tasks.")


def test_a_connection_lost_mid_statement(run_plugin, url):
    result = run_plugin("sql.query", {"url": url, "sql": "SELECT pg_terminate_backend(pg_backend_pid())"})
    assert result.error_code == "CONNECTION_ERROR"
    assert "terminating connection due to administrator command" in result.error


def test_a_server_that_never_answers_times_out(run_plugin):
    with socket.socket() as silent:  # accepts connections, never speaks
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port, started = silent.getsockname()[1], time.monotonic()
        result = run_plugin(
            "sql.query", {"url": f"postgresql://postgres@127.0.0.1:{port}/x", "sql": "SELECT 1", "timeout": 1}
        )
    assert time.monotonic() - started < 6
    assert result.error_code == "TIMEOUT_ERROR"
    assert result.error.startswith(f"Connecting to postgresql://127.0.0.1:{port}/x timed out")
