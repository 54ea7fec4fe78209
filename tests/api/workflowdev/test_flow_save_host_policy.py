"""Saving a flow refuses a literal database URL or SMTP host the network policy refuses, as it
refuses a literal HTTP URL: 422 with each path and line, nothing saved, no password in the error."""

import pytest

from flows.models import Flow
from tests.api.workflowdev.conftest import WD, assert_error
from tests.factories import SecretFactory

pytestmark = pytest.mark.django_db

PASSWORD = "Db-Pass-7c41e9"

SERVERS = f"""name: reaches-servers
tasks:
  - name: private-db
    type: sql.query
    properties:
      url: "postgresql://report:{PASSWORD}@10.0.0.5:5432/sales"
      sql: SELECT 1
  - name: loopback-mysql
    type: sql.query
    properties:
      url: "mysql://root:{PASSWORD}@127.0.0.1/test"
      sql: SELECT 1
  - name: socket-db
    type: sql.query
    properties:
      url: "postgresql:///sales"
      sql: SELECT 1
  - name: loopback-smtp
    type: mail.send
    properties:
      host: localhost
      to: [ops@example.com]
      text: hi
  - name: public-db
    type: sql.query
    properties:
      url: "postgresql://report:{PASSWORD}@db.example.com/sales"
      sql: SELECT 1
  - name: templated-db
    type: sql.query
    properties:
      url: "postgresql://report:${{DB_PASSWORD}}@{{{{ inputs.dbhost }}}}/sales"
      sql: SELECT 1
  - name: templated-password
    type: sql.query
    properties:
      url: "postgresql://report:${{DB_PASSWORD}}@10.0.0.6/sales"
      sql: SELECT 1
  - name: templated-smtp
    type: mail.send
    properties:
      host: "{{{{ inputs.smtp }}}}"
      to: [ops@example.com]
      text: hi
"""

REFUSED = [
    ("tasks[0].properties.url", 6, "url: refused host '10.0.0.5': a private address"),
    ("tasks[1].properties.url", 11, "url: refused host '127.0.0.1': a loopback address"),
    ("tasks[2].properties.url", 16, "url: the database URL has no host"),
    ("tasks[3].properties.host", 21, "host: refused host 'localhost': a loopback address"),
    ("tasks[6].properties.url", 37, "url: refused host '10.0.0.6': a private address"),
]

KESTRA = f"""id: kestra-servers
namespace: production
tasks:
  - id: query
    type: io.kestra.plugin.jdbc.postgresql.Query
    url: "jdbc:postgresql://[::1]:5432/app"
    username: app
    password: "{PASSWORD}"
    sql: SELECT 1
  - id: mail
    type: io.kestra.plugin.notifications.mail.MailSend
    host: 169.254.169.254
    to: [ops@example.com]
    plainTextContent: hi
"""


@pytest.fixture(autouse=True)
def db_password(namespace) -> None:
    """The templated URL's secret exists: its only possible problem would be the host."""
    SecretFactory(name="DB_PASSWORD", namespace=namespace)


def found(problems: list[dict]) -> list[tuple[str, int, str]]:
    return [
        (path, line, words)
        for path, line, words in REFUSED
        for problem in problems
        if (problem["path"], problem["line"]) == (path, line) and words in problem["message"]
    ]


def test_create_refuses_each_with_its_line_and_saves_nothing(api):
    error = assert_error(api.post(f"{WD}/flows", {"yamlContent": SERVERS}, format="json"), 422, "validation_error")
    problems = error["details"]["errors"]
    assert found(problems) == REFUSED and len(problems) == len(REFUSED), problems
    assert "refused host '10.0.0.5'" in error["message"]
    assert PASSWORD not in str(error)
    assert not Flow.objects.exists()


def test_validate_lists_the_same_problems(api):
    response = api.post(f"{WD}/flows/validate", {"yamlContent": SERVERS}, format="json")
    assert response.status_code == 200 and response.json()["valid"] is False
    assert found(response.json()["errors"]) == REFUSED
    assert PASSWORD not in response.content.decode()


def test_update_refuses_them_and_keeps_the_flow(api, create_flow):
    flow = create_flow()
    response = api.put(f"{WD}/flows/{flow['id']}", {"yamlContent": SERVERS}, format="json")
    error = assert_error(response, 422, "validation_error")
    assert found(error["details"]["errors"]) == REFUSED
    assert Flow.objects.get(pk=flow["id"]).source == flow["yamlContent"]


def test_kestra_tasks_are_refused_with_their_lines(api):
    error = assert_error(api.post(f"{WD}/flows", {"yamlContent": KESTRA}, format="json"), 422, "validation_error")
    problems = [(p["path"], p["line"], p["message"].split(":")[0]) for p in error["details"]["errors"]]
    assert problems == [("tasks[0].url", 6, "url"), ("tasks[1].host", 12, "host")], error
    assert "a loopback address" in error["details"]["errors"][0]["message"]
    assert "a cloud metadata address" in error["details"]["errors"][1]["message"]
    assert PASSWORD not in str(error)
    assert not Flow.objects.exists()


def test_allowed_networks_let_the_same_hosts_be_saved(api, settings):
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["10.0.0.0/8", "127.0.0.0/8", "::1/128", "169.254.169.254/32"]
    allowed = SERVERS.replace('postgresql:///sales"', 'postgresql://db.example.com/sales"')
    response = api.post(f"{WD}/flows", {"yamlContent": allowed}, format="json")
    assert response.status_code == 201, response.content
    assert api.post(f"{WD}/flows", {"yamlContent": KESTRA}, format="json").status_code == 201
    assert Flow.objects.count() == 2
