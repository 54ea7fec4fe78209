"""A SpiffWorkflow service task whose operator is a Millrace flow: `flows/production/price`.

The backend finds the command in `GET /v1/commands` (its parameters are the flow's declared
inputs), SpiffWorkflow runs `bpmn/flow_command.bpmn`, and its service task posts the evaluated
parameters with the proxy API key alone (acting as MILLRACE_CONNECTOR_ACCOUNT) and a
`spiff__callback_url`. Millrace answers 202, the task waits (STARTED), the flow runs, and
Millrace PUTs the envelope to the callback URL — a local server standing in for spiff-arena's
callback endpoint — whose body completes the task.
"""

import re

import pytest
import requests
from pytest_httpserver import HTTPServer
from SpiffWorkflow.util.task import TaskState

from accounts.roles import Role
from executions.models import Execution, ExecutionStatus
from tests.factories import AccountFactory, FlowFactory

from .spiff_backend import API_KEY_HEADER, ConnectorProxyEngine, ServiceTaskError, complete_with_callback, new_process

pytestmark = pytest.mark.django_db(transaction=True)

API_KEY = "interop-proxy-key-0123456789"
CALLBACK_PATH = re.compile(r"^/api/v1\.0/tasks/7/[0-9a-f-]+/callback$")
PRICE = """
name: price
inputs:
  - id: quantity
    type: INT
    required: true
  - id: item
    type: STRING
    defaults: anvil
tasks:
  - name: price
    type: util.echo
    properties:
      value: "{{ inputs.quantity * 3 }}"
"""


@pytest.fixture
def engine(live_server, settings, namespace, httpserver: HTTPServer) -> ConnectorProxyEngine:
    """A backend whose key acts as an executor of `production`; callbacks land on `httpserver`."""
    account = AccountFactory(role=Role.EXECUTOR, default_namespace=namespace, username="spiff-backend")
    settings.MILLRACE_CONNECTOR_ACCOUNT = account.username
    settings.MILLRACE_ENGINE_EAGER = True  # the flow runs, and calls back, inside the request
    settings.MILLRACE_CONNECTOR_API_KEY = API_KEY
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.MILLRACE_PUBLIC_URL = live_server.url
    httpserver.expect_request(CALLBACK_PATH, method="PUT").respond_with_json({"ok": True})
    return ConnectorProxyEngine(live_server.url, api_key=API_KEY, callback_base=httpserver.url_for("/api/v1.0"))


def price_order(engine: ConnectorProxyEngine, quantity: object, item: str = "bellows"):
    workflow = new_process("flow_command.bpmn", "flow_command", engine, {"quantity": quantity, "item": item})
    workflow.do_engine_steps()
    return workflow, workflow.get_next_task(spec_name="price_order")


def test_the_backend_lists_the_flow_command_with_its_inputs(engine, namespace) -> None:
    FlowFactory(namespace=namespace, name="price", source=PRICE)
    response = requests.get(f"{engine.proxy_url}/v1/commands", headers=engine.headers, timeout=30)
    commands = {command["id"]: command["parameters"] for command in response.json()}
    assert commands["flows/production/price"] == [
        {"id": "quantity", "type": "int", "required": True},
        {"id": "item", "type": "str", "required": False},
    ]


def test_the_service_task_waits_for_the_callback_and_completes_with_the_outputs(engine, namespace, httpserver) -> None:
    FlowFactory(namespace=namespace, name="price", source=PRICE)

    workflow, task = price_order(engine, 4)

    assert task.state == TaskState.STARTED and not workflow.is_completed()
    ((sent, accepted),) = engine.exchanges
    execution = Execution.objects.get(flow__name="price")
    assert accepted["command_response"]["body"] == {"task_id": str(execution.pk), "status": "processing"}
    assert accepted["command_response"]["http_status"] == 202
    assert execution.created_by.username == "spiff-backend"
    assert execution.inputs == {"quantity": 4, "item": "bellows"}  # the spiff__* parameters dropped
    assert execution.status == ExecutionStatus.SUCCESS
    assert execution.trigger_data["spiffCallbackUrl"] == sent["spiff__callback_url"]
    ((request, _),) = [(r, s) for r, s in httpserver.log if r.method == "PUT"]
    assert request.path == f"/api/v1.0/tasks/7/{task.id}/callback"
    envelope = request.get_json()
    assert envelope["command_response"] == {"body": {"price": 12}, "mimetype": "application/json", "http_status": 200}

    complete_with_callback(workflow, task, envelope)

    assert workflow.is_completed()
    assert workflow.last_task.data["priced"] == {"price": 12}
    assert workflow.last_task.data["total"] == 13


def test_a_wrong_input_type_fails_the_task_naming_the_input(engine, namespace) -> None:
    FlowFactory(namespace=namespace, name="price", source=PRICE)

    with pytest.raises(ServiceTaskError) as raised:
        price_order(engine, "four")

    assert raised.value.error_code == "invalid_parameters"
    assert "quantity: must be int" in str(raised.value)
    assert not Execution.objects.exists()


def test_a_flow_of_another_namespace_is_no_command(engine, other_namespace) -> None:
    FlowFactory(namespace=other_namespace, name="price", source=PRICE)

    with pytest.raises(ServiceTaskError) as raised:
        price_order(engine, 4)

    assert raised.value.error_code == "command_not_found"
    assert not Execution.objects.exists()


def test_the_key_is_refused_without_its_header(engine, namespace) -> None:
    FlowFactory(namespace=namespace, name="price", source=PRICE)
    response = requests.post(
        f"{engine.proxy_url}/v1/do/flows/production/price",
        json={"quantity": 1},
        headers={API_KEY_HEADER: "wrong-key"},
        timeout=30,
    )
    assert response.status_code == 401
    assert response.json()["command_response"]["http_status"] == 401
    assert not Execution.objects.exists()
