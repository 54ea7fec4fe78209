"""`sql.query` bad input: URLs, schemes, parameters the driver must not see, wrong types; the manifest."""

import pytest

from connectors.plugins.sql import SqlQuery, column_names, json_safe, parse_url
from connectors.registry import InputError, get_plugin

PUBLIC = "postgresql://app:pw@93.184.216.34:5432/sales"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param("http://db.example.com/x", "Unsupported database URL scheme 'http'", id="http"),
        pytest.param("sqlite:///tmp/x.db", "Unsupported database URL scheme 'sqlite'", id="sqlite"),
        pytest.param("file:///etc/passwd", "Unsupported database URL scheme 'file'", id="file"),
        pytest.param("db.example.com/sales", "Unsupported database URL scheme ''", id="no-scheme"),
        pytest.param("postgresql:///sales", "has no host (unix sockets are not supported)", id="socket"),
        pytest.param("postgresql://u:p@/sales?host=/var/run/postgresql", "has no host", id="socket-param"),
        pytest.param(PUBLIC + "?host=/var/run/postgresql", "Unsupported database URL parameter 'host'", id="host"),
        pytest.param(PUBLIC + "?passfile=/root/.pgpass", "parameter 'passfile'", id="passfile"),
        pytest.param(PUBLIC + "?service=prod", "parameter 'service'", id="service"),
        pytest.param(PUBLIC + "?options=-c%20statement_timeout%3D0", "parameter 'options'", id="options"),
        pytest.param(PUBLIC + "?sslmode=maybe", "Unsupported sslmode for postgresql", id="sslmode"),
        pytest.param("mysql://u@93.184.216.34/db?sslmode=prefer", "Unsupported sslmode for mysql", id="mysql-sslmode"),
        pytest.param("postgresql://u@db.example.com:99999/sales", "cannot be parsed", id="port"),
        pytest.param("postgresql://u@[::1/sales", "cannot be parsed", id="bracket"),
        pytest.param("mysql://u@93.184.216.34/a/b", "cannot contain '/'", id="mysql-name"),
    ],
)
def test_bad_urls_fail_clearly_without_quoting_the_url(run_plugin, ctx, url, message):
    result = run_plugin("sql.query", {"url": url, "sql": "SELECT 1"})
    assert result.status == "FAILED"
    assert result.error_code == "INVALID_INPUT"
    assert message in result.error
    assert url not in result.error and url not in ctx.logged_text()


@pytest.mark.parametrize(
    "host",
    [pytest.param("db1,db2", id="host-list"), pytest.param("%2Fvar%2Frun%2Fpostgresql", id="escaped-socket")],
)
def test_hosts_that_are_not_one_host_are_refused(run_plugin, host):
    result = run_plugin("sql.query", {"url": f"postgresql://u:pw@{host}/sales", "sql": "SELECT 1"})
    assert result.error_code == "INVALID_URL"
    assert "not a host name or IP address" in result.error


def test_private_and_metadata_hosts_are_refused(run_plugin, settings):
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = []
    for host, reason in (("10.0.0.5", "private"), ("169.254.169.254", "cloud metadata"), ("0177.0.0.1", "loopback")):
        result = run_plugin("sql.query", {"url": f"mysql://root@{host}/test", "sql": "SELECT 1"})
        assert result.error_code == "NETWORK_POLICY_ERROR"
        assert f"is a {reason} address" in result.error


@pytest.mark.parametrize(
    "inputs",
    [
        pytest.param({"sql": "SELECT 1"}, id="no-url"),
        pytest.param({"url": PUBLIC}, id="no-sql"),
        pytest.param({"url": PUBLIC, "sql": ""}, id="empty-sql"),
        pytest.param({"url": 5432, "sql": "SELECT 1"}, id="url-number"),
        pytest.param({"url": PUBLIC, "sql": ["SELECT 1"]}, id="sql-list"),
        pytest.param({"url": PUBLIC, "sql": "SELECT 1", "parameters": ["a"]}, id="parameters-list"),
        pytest.param({"url": PUBLIC, "sql": "SELECT 1", "fetch": "MANY"}, id="fetch"),
        pytest.param({"url": PUBLIC, "sql": "SELECT 1", "fetchType": "ALL"}, id="fetch-type"),
        pytest.param({"url": PUBLIC, "sql": "SELECT 1", "maxRows": 0}, id="max-rows-zero"),
        pytest.param({"url": PUBLIC, "sql": "SELECT 1", "maxRows": 10**12}, id="max-rows-huge"),
        pytest.param({"url": PUBLIC, "sql": "SELECT 1", "maxRows": "10"}, id="max-rows-text"),
        pytest.param({"url": PUBLIC, "sql": "SELECT 1", "timeout": True}, id="timeout-bool"),
        pytest.param({"url": PUBLIC, "sql": "SELECT 1", "password": 123}, id="password-number"),
        pytest.param({"url": "x" * 5000, "sql": "SELECT 1"}, id="url-oversize"),
    ],
)
def test_wrong_types_are_refused_by_the_schema(inputs):
    with pytest.raises(InputError):
        SqlQuery.check_inputs(inputs)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param({"timeout": 0}, "timeout must be more than 0", id="zero"),
        pytest.param({"timeout": 10**9}, "at most 3600 seconds", id="huge"),
        pytest.param({"timeout": "soon"}, "'soon' is not a duration", id="text"),
        pytest.param({"fetch": "ALL", "fetchType": "FETCH_ONE"}, "fetch and fetchType disagree", id="both"),
    ],
)
def test_bad_values_fail_before_connecting(run_plugin, extra, message):
    result = run_plugin("sql.query", {"url": PUBLIC, "sql": "SELECT 1", **extra})
    assert result.error_code == "INVALID_INPUT"
    assert message in result.error


def test_url_parsing_keeps_the_parts_and_the_overrides():
    db = parse_url("jdbc:postgres://rep%40ort:p%2Fw%3A1@DB.example.com/sales%20eu?sslmode=verify-full")
    assert (db.kind, db.host, db.port, db.name, db.user, db.password) == (
        "postgresql",
        "db.example.com",
        5432,
        "sales eu",
        "rep@ort",
        "p/w:1",
    )
    assert db.options == {"sslmode": "verify-full"}
    assert db.where() == "postgresql://db.example.com:5432/sales eu"
    mysql = parse_url("mariadb://u:x@[2001:db8::1]/shop", username="other", password="")
    assert (mysql.kind, mysql.host, mysql.port, mysql.user, mysql.password) == (
        "mysql",
        "2001:db8::1",
        3306,
        "other",
        "",
    )


def test_json_safe_and_column_names():
    assert json_safe(float("inf")) == "inf"
    assert json_safe(bytearray(b"\x01")) == "AQ=="
    assert json_safe(memoryview(b"ab")) == "YWI="
    assert json_safe({1: {"x", "y"}}) == {"1": ["x", "y"]}
    assert json_safe((1, "a")) == [1, "a"]
    assert list(column_names(["a", "b", "a", "a"])) == ["a", "b", "a_2", "a_3"]


def test_the_manifest_documents_the_plugin():
    plugin = get_plugin("sql.query")
    assert plugin is SqlQuery
    assert get_plugin("io.kestra.plugin.jdbc.mysql.Query") is SqlQuery
    manifest = plugin.manifest()
    assert "%(name)s" in manifest["documentation"] and "type: sql.query" in manifest["example"]
    assert set(manifest["outputSchema"]["properties"]) == {"rows", "row", "size", "truncated", "uri", "rowcount"}
    assert plugin.takes_secrets is True
