"""A long-running SpiffWorkflow service task: `millrace/RunFlow` answers 202 and calls back.

SpiffWorkflow runs `bpmn/run_flow.bpmn`; its service task calls Millrace with the proxy API
key alone (as spiff-arena does), which acts as MILLRACE_CONNECTOR_ACCOUNT. Millrace answers
202, the task waits (STARTED), the flow runs, and Millrace PUTs the envelope to the
`spiff__callback_url` — here a local server standing in for spiff-arena's callback endpoint.
The callback body completes the task, as spiff-arena's callback handler does.
"""

import re

import pytest
from pytest_httpserver import HTTPServer
from SpiffWorkflow.util.task import TaskState

from accounts.roles import Role
from executions.models import Execution, ExecutionStatus
from tests.factories import AccountFactory, FlowFactory

from .spiff_backend import ConnectorProxyEngine, ServiceTaskError, complete_with_callback, new_process

pytestmark = pytest.mark.django_db(transaction=True)

API_KEY = "interop-proxy-key-0123456789"
#: spiff-arena's callback endpoint: /api/v1.0/tasks/{process instance id}/{task guid}/callback
CALLBACK_PATH = re.compile(r"^/api/v1\.0/tasks/7/[0-9a-f-]+/callback$")
PRICE = """
name: price
inputs:
  - id: quantity
    type: INT
    required: true
tasks:
  - name: price
    type: util.echo
    properties:
      value: "{{ inputs.quantity * 3 }}"
"""
OUT_OF_STOCK = """
name: out-of-stock
tasks:
  - name: stop
    type: flow.fail
    properties:
      message: "Out of stock"
"""


@pytest.fixture
def backend_account(settings, namespace):
    """The account the proxy API key acts as: it may run flows of `production`."""
    account = AccountFactory(role=Role.EXECUTOR, default_namespace=namespace, username="spiff-backend")
    settings.MILLRACE_CONNECTOR_ACCOUNT = account.username
    return account


@pytest.fixture
def engine(live_server, settings, backend_account, httpserver: HTTPServer) -> ConnectorProxyEngine:
    settings.MILLRACE_ENGINE_EAGER = True  # the flow runs, and calls back, inside the request
    settings.MILLRACE_CONNECTOR_API_KEY = API_KEY
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.MILLRACE_PUBLIC_URL = live_server.url
    httpserver.expect_request(CALLBACK_PATH, method="PUT").respond_with_json({"ok": True})
    return ConnectorProxyEngine(live_server.url, api_key=API_KEY, callback_base=httpserver.url_for("/api/v1.0"))


def callbacks(httpserver: HTTPServer) -> list[dict]:
    return [request.get_json() for request, _ in httpserver.log if request.method == "PUT"]


def run_flow(engine: ConnectorProxyEngine, flow_name: str):
    workflow = new_process("run_flow.bpmn", "run_flow", engine, {"flow_name": flow_name, "quantity": 4})
    workflow.do_engine_steps()
    return workflow, workflow.get_next_task(spec_name="price_order")


def test_the_task_waits_for_the_callback_and_completes_with_its_body(engine, namespace, httpserver) -> None:
    FlowFactory(namespace=namespace, name="price", source=PRICE)

    workflow, task = run_flow(engine, "price")

    # 202: SpiffWorkflow leaves the task STARTED; nothing is stored in the result variable yet.
    assert task.state == TaskState.STARTED and not workflow.is_completed()
    assert "priced" not in task.data
    ((sent, accepted),) = engine.exchanges
    execution = Execution.objects.get(flow__name="price")
    assert accepted["command_response"] == {
        "body": {"task_id": str(execution.pk), "status": "processing"},
        "mimetype": "application/json",
        "http_status": 202,
    }
    assert execution.created_by.username == "spiff-backend" and execution.inputs == {"quantity": 4}
    # Millrace PUT the envelope to the task's own callback URL once the flow ended.
    assert execution.status == ExecutionStatus.SUCCESS
    assert execution.trigger_data["spiffCallbackUrl"] == sent["spiff__callback_url"]
    ((request, _),) = [(r, s) for r, s in httpserver.log if r.method == "PUT"]
    assert request.path == f"/api/v1.0/tasks/7/{task.id}/callback"
    (envelope,) = callbacks(httpserver)
    assert envelope["command_response"] == {"body": {"price": 12}, "mimetype": "application/json", "http_status": 200}
    assert envelope["error"] is None

    complete_with_callback(workflow, task, envelope)

    assert workflow.is_completed()
    assert workflow.last_task.data["priced"] == {"price": 12}
    assert workflow.last_task.data["total"] == 13


def test_a_failed_flow_calls_back_with_an_error_that_fails_the_task(engine, namespace, httpserver) -> None:
    FlowFactory(namespace=namespace, name="out-of-stock", source=OUT_OF_STOCK)

    workflow, task = run_flow(engine, "out-of-stock")

    assert task.state == TaskState.STARTED
    (envelope,) = callbacks(httpserver)
    with pytest.raises(ServiceTaskError) as raised:
        complete_with_callback(workflow, task, envelope)
    assert raised.value.error_code == "FLOW_FAILED"
    assert "Out of stock" in str(raised.value)
    assert not workflow.is_completed()


def test_the_key_alone_cannot_run_flows_without_a_connector_account(engine, namespace, settings) -> None:
    settings.MILLRACE_CONNECTOR_ACCOUNT = ""
    FlowFactory(namespace=namespace, name="price", source=PRICE)

    workflow = new_process("run_flow.bpmn", "run_flow", engine, {"flow_name": "price", "quantity": 4})
    with pytest.raises(ServiceTaskError) as raised:
        workflow.do_engine_steps()

    assert raised.value.error_code == "forbidden"
    assert not Execution.objects.exists()
