"""`connector.call`: Millrace as a SpiffWorkflow-style client of a connector proxy."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient

from accounts.roles import Role
from connectors.registry import ResultStatus, WaitKind, get_plugin
from executions.engine.sweeper import sweep
from executions.models import Execution, ExecutionStatus, TaskRun, TaskStatus
from executions.services import execution_start
from tests.factories import AccountFactory, FlowFactory

from .conftest import FakeContext, RunPlugin

pytestmark = pytest.mark.usefixtures("allow_loopback")

CALLBACK_URL = "http://millrace.test/v1/callbacks/tok"


def envelope(body: Any, http_status: int = 200, error: Any = None) -> dict[str, Any]:
    return {
        "command_response": {"body": body, "mimetype": "application/json", "http_status": http_status},
        "command_response_version": 2,
        "error": error,
        "spiff__logs": [],
    }


def call(server: HTTPServer, **inputs: Any) -> dict[str, Any]:
    return {"baseUrl": server.url_for(""), "command": "http/GetRequest", "parameters": {"url": "https://x"}, **inputs}


def test_posts_the_parameters_the_callback_url_and_the_api_key(
    httpserver: HTTPServer, run_plugin: RunPlugin, ctx: FakeContext
) -> None:
    httpserver.expect_request("/v1/do/http/GetRequest", method="POST").respond_with_json(envelope({"id": 1}))
    ctx.callback_url = CALLBACK_URL
    result = run_plugin("connector.call", call(httpserver, apiKey="sekrit-key", parameters={"url": "https://a/b"}))
    assert (result.status, result.outputs) == (ResultStatus.SUCCESS, {"id": 1})
    sent = httpserver.log[0][0]
    assert sent.get_json() == {"url": "https://a/b", "spiff__callback_url": CALLBACK_URL}
    assert sent.headers["Spiff-Connector-Proxy-Api-Key"] == "sekrit-key"
    assert "sekrit-key" not in ctx.logged_text() and "/callbacks/" not in ctx.logged_text()


def test_no_api_key_no_header_and_a_base_url_with_a_slash(httpserver: HTTPServer, run_plugin: RunPlugin) -> None:
    httpserver.expect_request("/proxy/v1/do/http/GetRequest").respond_with_json(envelope("ok"))
    result = run_plugin("connector.call", call(httpserver, baseUrl=httpserver.url_for("/proxy/")))
    assert result.outputs == "ok"
    sent = httpserver.log[0][0]
    assert "Spiff-Connector-Proxy-Api-Key" not in sent.headers
    assert "spiff__callback_url" not in sent.get_json()


def test_extra_headers_are_sent(httpserver: HTTPServer, run_plugin: RunPlugin) -> None:
    httpserver.expect_request("/v1/do/http/GetRequest").respond_with_json(envelope({}))
    run_plugin("connector.call", call(httpserver, headers={"Authorization": "Bearer t"}))
    assert httpserver.log[0][0].headers["Authorization"] == "Bearer t"


def test_an_envelope_error_fails_with_its_code(httpserver: HTTPServer, run_plugin: RunPlugin) -> None:
    error = {"message": "Connection timeout", "error_code": "TIMEOUT_ERROR"}
    httpserver.expect_request("/v1/do/http/GetRequest").respond_with_json(envelope({}, 500, error), status=500)
    result = run_plugin("connector.call", call(httpserver))
    assert (result.status, result.error, result.error_code) == (
        ResultStatus.FAILED,
        "TIMEOUT_ERROR: Connection timeout",
        "TIMEOUT_ERROR",
    )


def test_an_envelope_error_without_a_code_keeps_its_message(httpserver: HTTPServer, run_plugin: RunPlugin) -> None:
    httpserver.expect_request("/v1/do/http/GetRequest").respond_with_json(envelope({}, 500, {"message": "Down"}))
    result = run_plugin("connector.call", call(httpserver))
    assert (result.error, result.error_code) == ("Down", "CONNECTOR_ERROR")


@pytest.mark.parametrize("status", [302, 404, 500])
def test_an_http_status_of_300_or_more_fails(httpserver: HTTPServer, run_plugin: RunPlugin, status: int) -> None:
    httpserver.expect_request("/v1/do/http/GetRequest").respond_with_json(envelope({"detail": "x"}, status))
    result = run_plugin("connector.call", call(httpserver))
    assert (result.status, result.error_code, result.outputs) == (ResultStatus.FAILED, "HTTP_ERROR", {"detail": "x"})


def test_a_non_envelope_answer_fails(httpserver: HTTPServer, run_plugin: RunPlugin) -> None:
    httpserver.expect_request("/v1/do/http/GetRequest").respond_with_data("hello")
    assert run_plugin("connector.call", call(httpserver)).error_code == "INVALID_CONNECTOR_RESPONSE"
    httpserver.clear()
    httpserver.expect_request("/v1/do/http/GetRequest").respond_with_data("down", status=503)
    assert run_plugin("connector.call", call(httpserver)).error_code == "HTTP_ERROR"


def test_a_connection_failure_fails_with_its_code(run_plugin: RunPlugin) -> None:
    result = run_plugin("connector.call", {"baseUrl": "http://127.0.0.1:9", "command": "http/GetRequest"})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "CONNECTION_ERROR")


def test_a_202_waits_for_the_callback(httpserver: HTTPServer, run_plugin: RunPlugin, ctx: FakeContext) -> None:
    httpserver.expect_request("/v1/do/http/GetRequest").respond_with_json(
        envelope({"task_id": "abc-123", "status": "processing"}, 202), status=202
    )
    ctx.callback_url = CALLBACK_URL
    result = run_plugin("connector.call", call(httpserver))
    assert result.status == ResultStatus.WAITING
    assert result.wait is not None and result.wait.kind == WaitKind.CALLBACK
    assert result.wait.data == {"taskId": "abc-123"}


def test_resume_turns_the_callback_into_outputs_or_a_failure(ctx: FakeContext) -> None:
    plugin = get_plugin("connector.call")()
    inputs = {"baseUrl": "http://p", "command": "x/Y"}
    done = plugin.resume(inputs, ctx, envelope({"order_id": "12345"}))
    assert (done.status, done.outputs) == (ResultStatus.SUCCESS, {"order_id": "12345"})
    failed = plugin.resume(inputs, ctx, envelope({}, 500, {"message": "nope", "error_code": "FLOW_FAILED"}))
    assert (failed.status, failed.error, failed.error_code) == (ResultStatus.FAILED, "FLOW_FAILED: nope", "FLOW_FAILED")


@pytest.mark.parametrize("inputs", [{"baseUrl": "http://p"}, {"baseUrl": "http://p", "command": "no-slash"}])
def test_inputs_are_checked(inputs: dict) -> None:
    assert get_plugin("connector.call").input_problems(inputs)


# --- through the engine (eager), callback PUT to Millrace's own endpoint --------------------------

FLOW = """
name: calls-a-proxy
tasks:
  - name: call
    type: connector.call
    {retry}
    properties:
      baseUrl: "{base}"
      command: acme/LongJob
      parameters: {{"order": 7}}
  - name: after
    type: util.echo
    properties:
      value: "{{{{ outputs.call.order_id }}}}"
"""


@pytest.fixture
def eager(settings, transactional_db) -> None:
    settings.MILLRACE_ENGINE_EAGER = True


@pytest.fixture
def start(eager, namespace):
    account = AccountFactory(role=Role.ADMIN, default_namespace=namespace)

    def run(base: str, retry: str = "") -> Execution:
        flow = FlowFactory(namespace=namespace, created_by=account, source=FLOW.format(base=base, retry=retry))
        execution = execution_start(actor=account, flow=flow)
        execution.refresh_from_db()
        return execution

    return run


def accepted(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v1/do/acme/LongJob", method="POST").respond_with_json(
        envelope({"task_id": "job-1", "status": "processing"}, 202), status=202
    )


def callback_path(httpserver: HTTPServer, index: int = 0) -> str:
    return urlsplit(httpserver.log[index][0].get_json()["spiff__callback_url"]).path


def test_a_202_leaves_the_task_waiting_and_the_callback_completes_the_flow(httpserver: HTTPServer, start) -> None:
    accepted(httpserver)
    execution = start(httpserver.url_for(""))
    assert execution.status == ExecutionStatus.WAITING
    run = TaskRun.objects.get(execution=execution, name="call")
    assert run.status == TaskStatus.WAITING
    assert httpserver.log[0][0].get_json()["order"] == 7
    path = callback_path(httpserver)
    assert path.startswith("/v1/callbacks/")

    response = APIClient().put(path, envelope({"order_id": "12345", "status": "complete"}), format="json")
    assert response.status_code == 200, response.content
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCESS, execution.error
    assert execution.outputs == {"call": {"order_id": "12345", "status": "complete"}, "after": "12345"}

    again = APIClient().put(path, envelope({"order_id": "other"}), format="json")
    assert again.status_code == 404  # single use
    assert again.json()["error"]["error_code"] == "not_found"


def test_a_callback_carrying_an_error_fails_the_task(httpserver: HTTPServer, start) -> None:
    accepted(httpserver)
    execution = start(httpserver.url_for(""))
    error = {"message": "Out of stock", "error_code": "FLOW_FAILED"}
    response = APIClient().put(callback_path(httpserver), envelope({}, 500, error), format="json")
    assert response.status_code == 200
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    run = TaskRun.objects.get(execution=execution, name="call")
    assert (run.status, run.error) == (TaskStatus.FAILED, "FLOW_FAILED: Out of stock")
    assert "FLOW_FAILED: Out of stock" in execution.error


def test_a_synchronous_error_envelope_fails_the_task_with_its_code(httpserver: HTTPServer, start) -> None:
    error = {"message": "Connection timeout", "error_code": "TIMEOUT_ERROR"}
    httpserver.expect_request("/v1/do/acme/LongJob", method="POST").respond_with_json(
        envelope({}, 500, error), status=500
    )
    execution = start(httpserver.url_for(""))
    assert execution.status == ExecutionStatus.FAILED
    run = TaskRun.objects.get(execution=execution, name="call")
    assert (run.status, run.error) == (TaskStatus.FAILED, "TIMEOUT_ERROR: Connection timeout")
    assert "TIMEOUT_ERROR: Connection timeout" in execution.error


def test_a_failed_callback_is_retried_with_a_fresh_callback_url(httpserver: HTTPServer, start) -> None:
    accepted(httpserver)
    execution = start(httpserver.url_for(""), retry="retry: {maxAttempts: 2, delay: 0}")
    first = callback_path(httpserver)
    APIClient().put(first, envelope({}, 500, {"message": "try again", "error_code": "BUSY"}), format="json")
    run = TaskRun.objects.get(execution=execution, name="call")
    assert run.status == TaskStatus.RETRYING
    assert sweep(now=timezone.now() + timedelta(seconds=1))["woken"] == 1  # the back-off ended
    assert len(httpserver.log) == 2
    second = callback_path(httpserver, 1)
    assert second != first
    APIClient().put(second, envelope({"order_id": "9"}), format="json")
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCESS, execution.error
    assert json.dumps(execution.outputs["after"]) == '"9"'


def test_a_synchronous_answer_completes_at_once(httpserver: HTTPServer, start) -> None:
    httpserver.expect_request("/v1/do/acme/LongJob", method="POST").respond_with_json(envelope({"order_id": "1"}))
    execution = start(httpserver.url_for(""))
    assert execution.status == ExecutionStatus.SUCCESS, execution.error
    assert execution.outputs["after"] == "1"
