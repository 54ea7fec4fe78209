"""`check_urls` on servers reached without HTTP: a literal database URL or SMTP host is judged
like a literal HTTP URL, without resolving names, and never quotes the URL's password."""

import socket

import pytest

from connectors.plugins.mail import MailSend
from connectors.plugins.sql import SqlQuery
from flows.definitions.urls import check_urls, refused_inputs
from flows.definitions.validate import validate_definition

PASSWORD = "Unit-Pass-90ab1c"


@pytest.fixture(autouse=True)
def no_dns(settings, monkeypatch) -> None:
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = []

    def refuse(*args, **kwargs):
        raise AssertionError("a name was resolved at save time")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        (f"postgresql://u:{PASSWORD}@10.0.0.5/db", "refused host '10.0.0.5': a private address"),
        (f"postgres://u:{PASSWORD}@2130706433/db", "a loopback address"),
        (f"jdbc:mysql://u:{PASSWORD}@[::ffff:172.16.0.1]:3306/db", "a private address"),
        (f"mariadb://u:{PASSWORD}@db.localhost/db", "refused host 'db.localhost': a loopback address"),
        (f"postgresql://u:{PASSWORD}@169.254.169.254/db", "a cloud metadata address"),
        (f"postgresql://u:{PASSWORD}@db.example.com:99999/db", "cannot be parsed"),
        (f"postgresql://u:{PASSWORD}@db.example.com/db?host=/tmp", "unsupported database URL parameter 'host'"),
        (f"https://u:{PASSWORD}@db.example.com/db", "unsupported database URL scheme 'https'"),
    ],
)
def test_database_urls_every_run_would_refuse(url, words):
    [(key, reason)] = refused_inputs({"url": url, "sql": "SELECT 1"}, url_keys=(), plugin=SqlQuery)
    assert key == "url" and words in reason and PASSWORD not in reason


@pytest.mark.parametrize(
    ("host", "words"),
    [
        ("0177.0.0.1", "a loopback address"),
        ("LOCALHOST", "refused host 'localhost'"),
        ("fe80::1", "a link-local address"),
        ("fe80::1%eth0", "not a host name or IP address"),
        ("smtp1.example.com,smtp2.example.com", "not a host name or IP address"),
        ("256.1.1.1", "not a valid host"),
    ],
)
def test_smtp_hosts_every_run_would_refuse(host, words):
    [(key, reason)] = refused_inputs({"host": host}, url_keys=(), plugin=MailSend)
    assert key == "host" and words in reason


@pytest.mark.parametrize(
    ("plugin", "inputs"),
    [
        (SqlQuery, {"url": "postgresql://u:p@db.example.com:5432/db"}),
        (SqlQuery, {"url": "postgresql://u:${DB_PASSWORD}@db.example.com/db"}),
        (SqlQuery, {"url": "postgresql://u@{{ inputs.host }}/db"}),
        (SqlQuery, {"url": "postgresql://u@10.0.0.5:{{ inputs.port }}/db"}),  # the port decides whether it parses
        (SqlQuery, {"url": "{{ inputs.url }}"}),
        (SqlQuery, {"url": 5432}),  # the schema refuses it; nothing to judge here
        (MailSend, {"host": "smtp.example.com"}),
        (MailSend, {"host": "{{ inputs.smtp }}"}),
        (MailSend, {}),  # the operator's server (MILLRACE_SMTP_URL or Django's settings): not the tenant's
        (None, {"url": "postgresql://u@127.0.0.1/db", "host": "127.0.0.1"}),  # inputs of a plugin without servers
    ],
)
def test_names_templates_and_other_plugins_are_left_to_the_run(plugin, inputs):
    assert refused_inputs(inputs, url_keys=(), plugin=plugin) == []


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app:${DB_PASSWORD}@10.0.0.5/db",
        "mysql://{{ inputs.user }}:{{ secret('DB') }}@127.0.0.1:3306/shop",
        "jdbc:postgresql://app:${DB_PASSWORD}@[::1]/db?sslmode=disable",
    ],
)
def test_a_host_written_out_beside_a_templated_password_is_judged(url):
    [(key, reason)] = refused_inputs({"url": url}, url_keys=(), plugin=SqlQuery)
    assert key == "url" and "refused host" in reason and "DB_PASSWORD" not in reason


def test_allowed_networks_open_the_literal_servers(settings):
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["10.0.0.0/8", "127.0.0.0/8"]
    assert refused_inputs({"url": "postgresql://u@10.0.0.5/db"}, url_keys=(), plugin=SqlQuery) == []
    assert refused_inputs({"host": "localhost"}, url_keys=(), plugin=MailSend) == []


def test_check_urls_reports_servers_of_aliases_and_nested_tasks_with_their_lines():
    source = f"""name: nested
tasks:
  - name: each
    type: flow.forEach
    properties:
      items: [1]
    tasks:
      - name: query
        type: io.kestra.plugin.jdbc.postgresql.Query
        properties:
          url: "postgresql://u:{PASSWORD}@10.9.8.7/db"
          sql: SELECT 1
      - name: hook
        type: http.request
        properties:
          url: http://127.0.0.1:9/x
"""
    problems = validate_definition(source, checks=[check_urls])
    assert [(p.path, p.line) for p in problems] == [
        ("tasks[0].tasks[0].properties.url", 11),
        ("tasks[0].tasks[1].properties.url", 16),
    ], problems
    assert "refused host '10.9.8.7'" in problems[0].message and PASSWORD not in problems[0].message
