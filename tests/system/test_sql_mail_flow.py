"""A workflowdev flow, end to end through the API and the engine: query PostgreSQL with a
password from a secret, store the rows, mail them as an attachment; the stored run holds no
trace of the password. Real PostgreSQL, real SMTP server (aiosmtpd), the eager engine."""

import json
import uuid

import psycopg
import pytest
from rest_framework.test import APIClient

from accounts.roles import Role
from executions.models import Execution, ExecutionEvent, TaskRun
from tests.connectors.test_mail_plugin import Inbox, smtp  # noqa: F401  (the local SMTP server fixture)
from tests.connectors.test_sql_plugin import database  # noqa: F401  (a scratch PostgreSQL database)
from tests.factories import SecretFactory

WD = "/workflowdev/api/v1"
PGPASS = "Pg-Secret-83b1f0"

FLOW = """name: orders-report
tasks:
  - name: orders
    type: sql.query
    properties:
      url: "postgresql://postgres:${{PGPASS}}@127.0.0.1:5432/{database}"
      sql: "SELECT id, customer, total, placed FROM {table} WHERE total > %(minimum)s ORDER BY id"
      parameters:
        minimum: 10
      fetch: STORE
  - name: biggest
    type: io.kestra.plugin.jdbc.postgresql.Query
    properties:
      url: "jdbc:postgresql://127.0.0.1:5432/{database}"
      username: postgres
      password: "${{PGPASS}}"
      sql: "SELECT customer, total FROM {table} ORDER BY total DESC"
      fetchType: FETCH_ONE
  - name: mail
    type: mail.send
    properties:
      host: 127.0.0.1
      port: {port}
      tls: NONE
      from: "Reports <reports@example.com>"
      to: [ops@example.com]
      subject: "{{{{ outputs.orders.size }}}} orders, biggest by {{{{ outputs.biggest.row.customer }}}}"
      text: "The orders are attached."
      attachments:
        - "{{{{ outputs.orders.uri }}}}"
"""


@pytest.fixture
def orders(database) -> str:  # noqa: F811
    table = f"orders_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={database}", autocommit=True) as connection:
        connection.execute(f"CREATE TABLE {table} (id int, customer text, total numeric(8,2), placed date)")
        connection.execute(
            f"INSERT INTO {table} VALUES (1, 'ada', 5.00, '2024-01-02'), (2, 'grace', 12.50, '2024-01-03'), "
            "(3, 'linus', 99.99, '2024-01-04')"
        )
    return table


@pytest.fixture
def api(settings, transactional_db, make_account, client_for) -> APIClient:
    settings.MILLRACE_ENGINE_EAGER = True
    return client_for(make_account(Role.EDITOR))


def run(api: APIClient, yaml: str) -> dict:
    created = api.post(f"{WD}/flows", {"yamlContent": yaml}, format="json")
    assert created.status_code == 201, created.content
    started = api.post(f"{WD}/flows/{created.json()['id']}/execute")
    assert started.status_code == 201, started.content
    detail = api.get(f"{WD}/executions/{started.json()['executionId']}")
    assert detail.status_code == 200, detail.content
    return detail.json()


def everything_stored(execution_id: str) -> str:
    runs = TaskRun.objects.filter(execution_id=execution_id).values("inputs", "outputs", "error", "state")
    events = ExecutionEvent.objects.filter(execution_id=execution_id).values("message", "data")
    execution = Execution.objects.values("inputs", "outputs", "error").get(pk=execution_id)
    return json.dumps({"runs": list(runs), "events": list(events), "execution": execution}, default=str)


def test_query_store_and_mail_with_a_secret_password(api, namespace, database, orders, smtp):  # noqa: F811
    SecretFactory(name="PGPASS", value=PGPASS, namespace=namespace)
    body = run(api, FLOW.format(database=database, table=orders, port=smtp.port))
    execution, tasks = body["execution"], {task["taskName"]: task for task in body["tasks"]}
    assert execution["status"] == "SUCCESS", [task["error"] for task in body["tasks"]]
    stored = json.loads(tasks["orders"]["outputs"])
    assert (stored["size"], stored["truncated"]) == (2, False)
    assert stored["uri"].startswith(f"millrace:///production/executions/{execution['id']}/")
    assert json.loads(tasks["biggest"]["outputs"])["row"] == {"customer": "linus", "total": "99.99"}
    sent = json.loads(tasks["mail"]["outputs"])
    assert (sent["sent"], sent["to"], sent["attachments"]) == (1, ["ops@example.com"], ["rows.jsonl"])

    download = api.get(f"{WD}/executions/{execution['id']}/file", {"path": stored["uri"]})
    assert download.status_code == 200
    lines = b"".join(download.streaming_content).decode().splitlines()
    expected = [
        {"id": 2, "customer": "grace", "total": "12.50", "placed": "2024-01-03"},
        {"id": 3, "customer": "linus", "total": "99.99", "placed": "2024-01-04"},
    ]
    assert [json.loads(line) for line in lines] == expected

    [(_, recipients, message)] = smtp.messages
    assert recipients == ["ops@example.com"]
    assert message["Subject"] == "2 orders, biggest by linus"
    [attachment] = message.iter_attachments()
    assert attachment.get_filename() == "rows.jsonl"
    assert [json.loads(line) for line in attachment.get_content().decode().splitlines()] == expected

    assert PGPASS not in everything_stored(execution["id"])
    assert PGPASS not in json.dumps(body)


def test_an_sql_error_fails_the_task_with_the_servers_message(api, namespace, database):  # noqa: F811
    SecretFactory(name="PGPASS", value=PGPASS, namespace=namespace)
    yaml = f"""name: broken-query
tasks:
  - name: q
    type: sql.query
    properties:
      url: "postgresql://postgres:${{PGPASS}}@127.0.0.1:5432/{database}"
      sql: "SELECT * FROM missing_table"
"""
    body = run(api, yaml)
    assert body["execution"]["status"] == "FAILED"
    [task] = body["tasks"]
    assert task["status"] == "FAILED"
    assert 'relation "missing_table" does not exist (SQLSTATE 42P01)' in task["error"]
    assert PGPASS not in everything_stored(body["execution"]["id"])


def test_wrong_types_are_refused_when_saved_and_when_run(api, database):  # noqa: F811
    yaml = f"""name: wrong-types
tasks:
  - name: q
    type: sql.query
    properties:
      url: "postgresql://postgres@127.0.0.1:5432/{database}"
      sql: "SELECT 1"
      maxRows: MAX_ROWS
"""
    refused = api.post(f"{WD}/flows", {"yamlContent": yaml.replace("MAX_ROWS", "ten")}, format="json")
    assert refused.status_code == 422
    assert "maxRows" in refused.json()["error"]["message"]
    body = run(api, yaml.replace("MAX_ROWS", "\"{{ 'ten' }}\""))  # known only when it runs
    [task] = body["tasks"]
    assert (body["execution"]["status"], task["status"]) == ("FAILED", "FAILED")
    assert "invalid inputs" in task["error"] and "maxRows" in task["error"]
