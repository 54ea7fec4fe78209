"""The Kestra examples in flows/examples/kestra run unchanged, created through the workflowdev API."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.roles import Role
from core import storage
from executions.engine.sweeper import sweep
from tests.factories import NamespaceFactory
from vault.models import KeyValue

EXAMPLES = Path(__file__).resolve().parents[2] / "flows" / "examples" / "kestra"
WD = "/workflowdev/api/v1"


@pytest.fixture
def team(db):
    return NamespaceFactory(name="company.team")


@pytest.fixture
def api(team, make_account, client_for, settings) -> APIClient:
    settings.MILLRACE_ENGINE_EAGER = True
    return client_for(make_account(Role.EDITOR, namespace=team))


def run(api: APIClient, example: str, inputs: dict | None = None) -> dict:
    """Create the example from its YAML as written, execute it, and read the execution back."""
    created = api.post(f"{WD}/flows", {"yamlContent": (EXAMPLES / example).read_text()}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["namespace"] == "company.team"
    started = api.post(f"{WD}/flows/{created.json()['id']}/execute", inputs or {}, format="json")
    assert started.status_code == 201, started.content
    return api.get(f"{WD}/executions/{started.json()['executionId']}").json()


def outputs_of(detail: dict) -> dict[str, object]:
    return {task["taskName"]: json.loads(task["outputs"]) for task in detail["tasks"] if task["outputs"]}


@pytest.mark.usefixtures("transactional_db")
def test_hello_world_greets_and_outputs_the_greeting(api):
    detail = run(api, "hello-world.yaml", {"user": "Grace"})
    execution = detail["execution"]
    assert execution["status"] == "SUCCESS", execution["error"]
    assert execution["outputs"] == {"greeting": "Welcome aboard, Grace!"}
    assert execution["labels"] == {"env": "dev", "team": "platform"}
    tasks = outputs_of(detail)
    assert tasks["first_log"] == {"message": "Hello Grace, this is hello-world in company.team"}
    assert tasks["second_log"] == {"message": "The greeting was: Welcome aboard, Grace!"}
    assert [task["taskType"] for task in detail["tasks"]] == ["util.log", "util.echo", "util.log"]


@pytest.mark.usefixtures("transactional_db")
def test_orders_etl_loops_branches_switches_and_uses_the_kv_store(api, team):
    detail = run(api, "orders-etl.yaml", {"region": "US"})
    execution = detail["execution"]
    assert execution["status"] == "SUCCESS", execution["error"]
    assert execution["outputs"] == {"region": "US"}
    tasks = outputs_of(detail)
    assert tasks["dollar"] == {"value": "USD"} and "euro" not in tasks
    messages = sorted(task["message"] for name, task in _runs(detail, "large_order", "small_order"))
    assert messages == ["Order 1 is a large one (120)", "Order 2 is a small one", "Order 3 is a large one (75)"]
    assert not KeyValue.objects.filter(namespace=team, key="last_region").exists()  # deleted at the end


@pytest.mark.usefixtures("transactional_db")
def test_orders_etl_fails_for_a_region_without_a_currency(api):
    execution = run(api, "orders-etl.yaml", {"region": "APAC"})["execution"]
    assert execution["status"] == "FAILED"
    assert "No currency for region APAC" in execution["error"]


def _runs(detail: dict, *names: str) -> list[tuple[str, dict]]:
    return [(task["taskName"], json.loads(task["outputs"])) for task in detail["tasks"] if task["taskName"] in names]


@pytest.mark.usefixtures("transactional_db")
def test_api_report_fetches_sums_in_python_and_reports(api, httpserver, settings):
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    products = {"products": [{"title": "pen", "price": 1.5}, {"title": "ink", "price": 7.25}]}
    httpserver.expect_request("/products", headers={"Accept": "application/json"}).respond_with_json(products)
    detail = run(api, "api-report.yaml", {"api_url": httpserver.url_for("/products")})
    execution = detail["execution"]
    assert execution["status"] == "SUCCESS", execution["error"]
    assert execution["outputs"] == {"count": 2, "total": 8.75}
    tasks = outputs_of(detail)
    assert tasks["fetch"]["status_code"] == 200
    assert tasks["api_ok"] == {"message": "The API answered 200"}
    assert tasks["summarize"]["vars"] == {"count": 2, "total": 8.75}
    assert tasks["report"]["stdout"].strip() == "2 products worth 8.75"


@pytest.mark.usefixtures("transactional_db")
def test_api_report_fails_when_the_api_answers_an_error(api, httpserver, settings):
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    httpserver.expect_request("/products").respond_with_data("down", status=503)
    detail = run(api, "api-report.yaml", {"api_url": httpserver.url_for("/products")})
    assert detail["execution"]["status"] == "WAITING"  # the retry's interval
    for seconds in (5, 10):  # Kestra's `retry: {maxAttempt: 3, interval: PT1S}`: two more tries
        sweep(now=timezone.now() + timedelta(seconds=seconds))
    execution = api.get(f"{WD}/executions/{detail['execution']['id']}").json()["execution"]
    assert execution["status"] == "FAILED"
    assert "503" in execution["error"]
    assert len(httpserver.log) == 3


@pytest.mark.usefixtures("transactional_db")
def test_daily_summary_writes_joins_measures_labels_and_deletes(api):
    detail = run(api, "daily-summary.yaml", {"day": "2024-07-14"})
    execution = detail["execution"]
    assert execution["status"] == "SUCCESS", execution["error"]
    assert execution["labels"] == {"team": "sales", "day": "2024-07-14", "orders": "2"}
    report = execution["outputs"]["report"]
    assert report.startswith(f"millrace:///company.team/executions/{execution['id']}/tasks/")
    assert report.endswith("/report.csv")
    content = b"id,total\n1,120\n2,30\n"
    assert storage.open_file(report.removeprefix("millrace:///")).read() == content
    assert execution["outputs"]["size"] == len(content)
    tasks = outputs_of(detail)
    assert tasks["label"] == {"labels": {"day": "2024-07-14", "orders": "2"}}
    assert tasks["cleanup"] == {"uri": tasks["rows"]["uri"], "deleted": True}
    assert not storage.exists(tasks["rows"]["uri"].removeprefix("millrace:///"))
    assert storage.exists(tasks["header"]["uri"].removeprefix("millrace:///"))
    assert [task["taskType"] for task in detail["tasks"]] == [
        *("file.write", "file.write", "file.concat", "file.size", "execution.labels", "file.delete")
    ]
    listed = api.get(f"{WD}/executions", {"labels": "day:2024-07-14"}).json()
    assert [item["id"] for item in listed] == [execution["id"]]
