"""`millrace/RunFlow`: synchronous runs, 202 + callback delivery, roles and lookups (the callback
outbox itself: tests/executions/engine/test_callbacks.py)."""

import pytest
from pytest_httpserver import HTTPServer

from accounts.roles import Role
from executions.models import Execution, ExecutionStatus
from tests.factories import FlowFactory

from .conftest import envelope, without_logs

ECHO = """
name: echo
inputs:
  - id: who
    type: STRING
    defaults: world
tasks:
  - name: greet
    type: util.echo
    properties:
      value: "Hello {{ inputs.who }}"
"""
FAILING = """
name: failing
tasks:
  - name: stop
    type: flow.fail
    properties:
      message: "Out of stock"
"""
SLEEPING = """
name: sleeping
tasks:
  - name: nap
    type: util.sleep
    properties:
      seconds: 60
"""


@pytest.fixture(autouse=True)
def eager(settings, transactional_db) -> None:
    settings.MILLRACE_ENGINE_EAGER = True


@pytest.fixture
def echo_flow(namespace):
    return FlowFactory(namespace=namespace, name="echo", source=ECHO)


def run(proxy, payload: dict) -> tuple[int, dict]:
    response = proxy.post("/v1/do/millrace/RunFlow", payload, format="json")
    return response.status_code, response.json()


def test_runs_a_flow_by_id_and_answers_its_outputs(proxy, echo_flow) -> None:
    status, data = run(proxy, {"flow_id": str(echo_flow.pk), "inputs": {"who": "Spiff"}})
    assert status == 200, data
    assert without_logs(data) == envelope({"greet": "Hello Spiff"})
    execution = Execution.objects.get(flow=echo_flow)
    assert execution.status == ExecutionStatus.SUCCESS
    assert execution.origin == "connector"


def test_runs_a_flow_by_namespace_and_name(proxy, echo_flow) -> None:
    status, data = run(proxy, {"namespace": "production", "flow_name": "echo"})
    assert (status, data["command_response"]["body"]) == (200, {"greet": "Hello world"})


def test_a_failed_flow_answers_an_error(proxy, namespace) -> None:
    flow = FlowFactory(namespace=namespace, source=FAILING)
    status, data = run(proxy, {"flow_id": str(flow.pk)})
    assert status == 500
    assert data["error"]["error_code"] == "FLOW_FAILED"
    assert "Out of stock" in data["error"]["message"]


def test_a_flow_still_running_after_the_wait_bound_answers_202(proxy, namespace, settings) -> None:
    settings.MILLRACE_WEBHOOK_WAIT_SECONDS = 0
    flow = FlowFactory(namespace=namespace, source=SLEEPING)
    status, data = run(proxy, {"flow_id": str(flow.pk)})
    execution = Execution.objects.get(flow=flow)
    assert status == 202
    assert data["command_response"]["body"] == {"task_id": str(execution.pk), "status": "processing"}


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({}, 400, "invalid_parameters"),
        ({"namespace": "production"}, 400, "invalid_parameters"),
        ({"namespace": "production", "flow_name": "nope"}, 404, "not_found"),
        ({"flow_id": "00000000-0000-0000-0000-000000000000"}, 404, "not_found"),
        ({"flow_name": "echo", "namespace": "production", "inputs": [1]}, 400, "invalid_parameters"),
        (
            {"flow_name": "echo", "namespace": "production", "spiff__callback_url": "ftp://x/y"},
            400,
            "invalid_parameters",
        ),
    ],
)
def test_refusals(proxy, echo_flow, payload, status, code) -> None:
    got, data = run(proxy, payload)
    assert (got, data["error"]["error_code"]) == (status, code)
    assert data["command_response"]["http_status"] == status


def test_needs_the_executor_role(client_for, make_account, echo_flow) -> None:
    viewer = client_for(make_account(Role.VIEWER))
    status, data = run(viewer, {"flow_id": str(echo_flow.pk)})
    assert (status, data["error"]["error_code"]) == (403, "forbidden")


def test_a_flow_of_another_namespace_is_not_found(proxy, other_namespace) -> None:
    flow = FlowFactory(namespace=other_namespace, source=ECHO)
    status, data = run(proxy, {"flow_id": str(flow.pk)})
    assert (status, data["error"]["error_code"]) == (404, "not_found")


def test_with_a_callback_url_answers_202_and_puts_the_envelope(proxy, echo_flow, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/callback/abc", method="PUT").respond_with_json({"ok": True})
    status, data = run(
        proxy,
        {
            "flow_id": str(echo_flow.pk),
            "inputs": {"who": "cb"},
            "spiff__callback_url": httpserver.url_for("/callback/abc"),
        },
    )
    execution = Execution.objects.get(flow=echo_flow)
    assert status == 202
    assert without_logs(data) == envelope({"task_id": str(execution.pk), "status": "processing"}, 202)
    assert execution.trigger_data["spiffCallbackUrl"] == httpserver.url_for("/callback/abc")
    # only this test's path: a slow request of an earlier test may still land in the shared server's log
    ((sent, _),) = [(request, response) for request, response in httpserver.log if request.path == "/callback/abc"]
    assert without_logs(sent.get_json()) == envelope({"greet": "Hello cb"})


def test_a_failed_flow_calls_back_with_its_error(proxy, namespace, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/cb", method="PUT").respond_with_json({})
    flow = FlowFactory(namespace=namespace, source=FAILING)
    status, _ = run(proxy, {"flow_id": str(flow.pk), "spiff__callback_url": httpserver.url_for("/cb")})
    assert status == 202
    sent = httpserver.log[0][0].get_json()
    assert sent["command_response"]["body"] == {}
    assert sent["error"]["error_code"] == "FLOW_FAILED"
