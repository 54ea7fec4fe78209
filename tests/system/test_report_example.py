"""The README's example, as written: a namespace file read in Python, a PostgreSQL query, a CSV,
a mail with the CSV attached. Through the workflowdev API, real PostgreSQL, real SMTP, the engine."""

import csv
import io
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from accounts.roles import Role
from tests.connectors.test_mail_plugin import Inbox, smtp  # noqa: F401  (the local SMTP server fixture)
from tests.connectors.test_sql_plugin import database  # noqa: F401  (a scratch PostgreSQL database)
from tests.factories import SecretFactory

WD = "/workflowdev/api/v1"
EXAMPLE = Path(__file__).resolve().parents[2] / "flows" / "examples" / "orders-report"


@pytest.fixture
def api(settings, transactional_db, namespace, make_account, client_for) -> APIClient:
    settings.MILLRACE_ENGINE_EAGER = True
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    SecretFactory(name="DB_PASSWORD", value="not-needed-with-trust-auth", namespace=namespace)
    return client_for(make_account(Role.EDITOR))


def test_the_orders_report_example_runs(api, namespace, database, smtp: Inbox):  # noqa: F811
    script = (EXAMPLE / "scripts" / "thresholds.py").read_bytes()
    upload = api.post(
        f"{WD}/namespaces/{namespace.name}/files?path=/scripts/thresholds.py",
        {"fileContent": io.BytesIO(script)},
        format="multipart",
    )
    assert upload.status_code in (200, 201), upload.content
    created = api.post(
        f"{WD}/flows",
        {"namespace": namespace.name, "yamlContent": (EXAMPLE / "flow.yaml").read_text()},
        format="json",
    )
    assert created.status_code == 201, created.content
    started = api.post(
        f"{WD}/flows/{created.json()['id']}/execute",
        {"db_name": database, "smtp_port": smtp.port, "recipient": "ada@example.com"},
        format="json",
    )
    assert started.status_code == 201, started.content
    detail = api.get(f"{WD}/executions/{started.json()['executionId']}").json()
    assert detail["execution"]["status"] == "SUCCESS", [(t["taskName"], t.get("error")) for t in detail["tasks"]]
    ((_, recipients, message),) = smtp.messages
    assert recipients == ["ada@example.com"] and message["Subject"] == "5 orders of at least 120.0"
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == "orders.csv"
    content = attachment.get_content()
    rows = list(csv.DictReader(io.StringIO(content if isinstance(content, str) else content.decode())))
    assert [row["id"] for row in rows] == ["16", "17", "18", "19", "20"]
    assert rows[0] == {"id": "16", "customer": "customer-16", "total": "120.00"}
