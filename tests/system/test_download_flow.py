"""A workflowdev flow that downloads a file, uploads it elsewhere by its URI and says so on "Slack".

Run by the real engine twice: in this process (any database), and by real worker processes on
PostgreSQL + Redis that share this test's file storage. The upstreams are local HTTP servers.
"""

from __future__ import annotations

import json
import os

import pytest
from django.conf import settings as django_settings
from pytest_httpserver import HTTPServer
from werkzeug import Response

from accounts.roles import Role
from executions.models import Execution, ExecutionEvent, ExecutionStatus, TaskRun
from executions.services import execution_start
from flows.models import Flow
from tests.factories import AccountFactory, FlowFactory, SecretFactory
from tests.system.conftest import wait_until

TOKEN = "T0kenInTheHookPath77"
FLOW = """
name: relay-report
tasks:
  - name: fetch
    type: http.download
    properties:
      url: "{source}"
  - name: upload
    type: http.request
    properties:
      url: "{target}"
      method: PUT
      headers:
        Content-Type: "{{{{ outputs.fetch.contentType }}}}"
      body: "{{{{ outputs.fetch.uri }}}}"
  - name: tell
    type: notify.slack
    properties:
      url: "${{SLACK_URL}}"
      text: "Uploaded {{{{ outputs.fetch.filename }}}} ({{{{ outputs.fetch.size }}}} bytes)"
"""


@pytest.fixture
def upstreams(httpserver: HTTPServer) -> bytes:
    """The report to fetch, the store it goes to, and a Slack hook that is rate limited once."""
    report = os.urandom(200_000)
    httpserver.expect_request("/reports/today").respond_with_data(
        report,
        content_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="../../daily report.pdf"'},
    )
    httpserver.expect_request("/store/daily.pdf", method="PUT").respond_with_json({"stored": True}, status=201)
    answers = [Response("rate_limited", status=429, headers={"Retry-After": "1"}), Response("ok")]
    httpserver.expect_request(f"/services/T1/B1/{TOKEN}", method="POST").respond_with_handler(
        lambda request: answers.pop(0)
    )
    return report


def _flow(httpserver: HTTPServer, namespace) -> Flow:
    account = AccountFactory(role=Role.ADMIN, default_namespace=namespace)
    SecretFactory(namespace=namespace, name="SLACK_URL", value=httpserver.url_for(f"/services/T1/B1/{TOKEN}"))
    source = FLOW.format(source=httpserver.url_for("/reports/today"), target=httpserver.url_for("/store/daily.pdf"))
    return FlowFactory(namespace=namespace, name="relay-report", source=source, created_by=account)


def _check(execution: Execution, httpserver: HTTPServer, report: bytes) -> None:
    assert execution.status == ExecutionStatus.SUCCESS, execution.error
    runs = {run.name: run for run in TaskRun.objects.filter(execution=execution)}
    fetched = runs["fetch"].outputs
    assert (fetched["filename"], fetched["size"], fetched["code"]) == ("daily report.pdf", len(report), 200)
    assert fetched["uri"].startswith(f"millrace:///{execution.namespace.name}/executions/{execution.id}/")
    assert runs["upload"].outputs["status_code"] == 201
    assert runs["tell"].outputs == {"statusCode": 200, "body": "ok", "attempts": 2}
    uploaded = next(request for request, _ in httpserver.log if request.path == "/store/daily.pdf")
    assert uploaded.get_data() == report and uploaded.headers["Content-Type"] == "application/pdf"
    posted = [request for request, _ in httpserver.log if request.path.startswith("/services/")]
    assert [request.get_json() for request in posted] == [
        {"text": f"Uploaded daily report.pdf ({len(report)} bytes)"}
    ] * 2
    rows = list(TaskRun.objects.filter(execution=execution).values("inputs", "outputs", "error"))
    events = list(ExecutionEvent.objects.filter(execution=execution).values("message", "data"))
    recorded = json.dumps([rows, events], default=str)
    assert TOKEN not in recorded  # the hook URL is a secret: masked whole, and its path never logged


@pytest.mark.usefixtures("transactional_db")
def test_the_engine_downloads_uploads_and_notifies(
    httpserver: HTTPServer, upstreams: bytes, namespace, settings
) -> None:
    settings.MILLRACE_ENGINE_EAGER = True
    flow = _flow(httpserver, namespace)
    execution = execution_start(actor=flow.created_by, flow=flow)
    execution.refresh_from_db()
    _check(execution, httpserver, upstreams)


@pytest.mark.services
def test_workers_download_upload_and_notify(httpserver: HTTPServer, upstreams: bytes, namespace, workers) -> None:
    storage = django_settings.STORAGES["millrace"]
    extra = {"MILLRACE_STORAGE_DIR": storage["OPTIONS"]["location"]} if "location" in storage["OPTIONS"] else {}
    workers.start(**extra)
    flow = _flow(httpserver, namespace)
    execution = execution_start(actor=flow.created_by, flow=flow)

    def ended() -> bool:
        execution.refresh_from_db()
        return execution.is_terminal

    wait_until(ended, 60, "the relay-report execution")
    _check(execution, httpserver, upstreams)
