"""`flows/<namespace>/<name>`: each flow the caller may run is a connector command whose
parameters are its declared inputs (the RunFlow path itself: test_run_flow.py)."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_httpserver import HTTPServer

from accounts.models import Namespace
from accounts.roles import Role
from api.connector_proxy.flow_commands import flow_parameter
from executions.models import Execution, ExecutionStatus
from flows.definitions import FlowInput
from flows.models import Flow
from tests.factories import FlowFactory, MembershipFactory

from .conftest import envelope, without_logs

API_KEY = "flow-commands-proxy-key-0123456789"
PRICE = """
name: price
inputs:
  - id: quantity
    type: INT
    required: true
  - id: item
    type: STRING
    defaults: anvil
  - id: express
    type: BOOLEAN
  - id: rate
    type: FLOAT
  - id: options
    type: JSON
  - id: due
    type: DATE
  - id: size
    type: SELECT
    values: [small, large]
tasks:
  - name: price
    type: util.echo
    properties:
      value: "{{ inputs.quantity * 3 }} x {{ inputs.item }}"
"""
PRICE_PARAMETERS = [
    {"id": "quantity", "type": "int", "required": True},
    {"id": "item", "type": "str", "required": False},
    {"id": "express", "type": "bool", "required": False},
    {"id": "rate", "type": "int", "required": False},
    {"id": "options", "type": "any", "required": False},
    {"id": "due", "type": "str", "required": False},
    {"id": "size", "type": "str", "required": False},
]
FAILING = "name: failing\ntasks:\n  - name: stop\n    type: flow.fail\n    properties:\n      message: Out of stock\n"
SLEEPING = "name: sleeping\ntasks:\n  - name: nap\n    type: util.sleep\n    properties:\n      seconds: 60\n"


@pytest.fixture(autouse=True)
def eager(settings, transactional_db) -> None:
    settings.MILLRACE_ENGINE_EAGER = True


@pytest.fixture
def price(namespace):
    return FlowFactory(namespace=namespace, name="price", source=PRICE)


def listed(client) -> dict[str, list[dict]]:
    response = client.get("/v1/commands")
    assert response.status_code == 200
    return {command["id"]: command["parameters"] for command in response.json()}


def flow_ids(client) -> set[str]:
    return {command_id for command_id in listed(client) if command_id.startswith("flows/")}


def do(client, path: str, payload) -> tuple[int, dict]:
    """POST the parameters; a str is sent as the raw JSON text (numbers JSON encoders refuse)."""
    body = payload if isinstance(payload, str) else json.dumps(payload)
    response = client.post(f"/v1/do/{path}", body, content_type="application/json")
    return response.status_code, response.json()


# --- the listing -------------------------------------------------------------------------------


def test_each_runnable_flow_is_listed_with_its_inputs_as_parameters(proxy, price, namespace) -> None:
    FlowFactory(namespace=namespace, name="plain")
    commands = listed(proxy)
    assert "http/GetRequest" in commands and "millrace/RunFlow" in commands
    assert commands["flows/production/price"] == PRICE_PARAMETERS
    assert commands["flows/production/plain"] == []
    ids = list(commands)
    assert ids.index("flows/production/plain") < ids.index("flows/production/price")  # by name


@pytest.mark.parametrize(
    ("kind", "proxy_type"),
    [
        *[("STRING", "str"), ("INT", "int"), ("FLOAT", "int"), ("BOOLEAN", "bool"), ("JSON", "any")],
        *[("ARRAY", "any"), ("MULTISELECT", "any"), ("DATETIME", "str"), ("URI", "str"), ("SECRET", "str")],
        *[("FILE", "str"), ("SOMETHING_NEW", "str")],
    ],
)
def test_declared_types_map_to_the_proxy_types(kind, proxy_type) -> None:
    parameter = flow_parameter(FlowInput("x", kind, required=True))  # type: ignore[arg-type]
    assert (parameter.type, parameter.required) == (proxy_type, True)


def test_an_input_with_a_default_is_not_required() -> None:
    assert not flow_parameter(FlowInput("x", required=True, default="a", has_default=True)).required


TASK = "tasks: [{name: t, type: util.log, properties: {message: '{{ inputs }}'}}]\n"
SOURCES = {
    "dashes-in-column-0": "name: a\ninputs:\n- id: n\n  type: INT\n# a note\n\n- id: s\n" + TASK,
    "flow-style": "{name: b, inputs: [{id: n, type: INT}, {id: s}], tasks: [{name: t, type: util.log}]}\n",
    "json": '{"name": "c", "inputs": [{"id": "n", "type": "INT"}, {"id": "s"}], "tasks": []}\n',
    "last-key-after-a-marker": "---\nname: d\n" + TASK + "inputs:\n  - {id: n, type: INT}\n  - id: s\n",
    "alias-to-an-anchor-elsewhere": "variables: {kind: &kind INT}\ninputs:\n  - {id: n, type: *kind}\n  - id: s\n"
    + TASK,
}


@pytest.mark.parametrize("layout", list(SOURCES))
def test_inputs_are_read_whatever_the_yaml_layout(proxy, namespace, layout) -> None:
    FlowFactory(namespace=namespace, name=layout, source=SOURCES[layout])
    assert listed(proxy)[f"flows/production/{layout}"] == [
        {"id": "n", "type": "int", "required": False},
        {"id": "s", "type": "str", "required": False},
    ]


def test_a_template_naming_inputs_declares_none(proxy, namespace) -> None:
    FlowFactory(namespace=namespace, name="templated", source="name: templated\n" + TASK)
    assert listed(proxy)["flows/production/templated"] == []


def test_flows_of_other_namespaces_and_of_viewers_are_not_listed(
    client_for, make_account, proxy, price, other_namespace
) -> None:
    FlowFactory(namespace=other_namespace, name="secret-plan")
    assert flow_ids(proxy) == {"flows/production/price"}
    viewer = client_for(make_account(Role.VIEWER))
    assert flow_ids(viewer) == set()


def test_a_global_admin_lists_every_namespace(client_for, admin_account, price, other_namespace) -> None:
    FlowFactory(namespace=other_namespace, name="secret-plan")
    assert flow_ids(client_for(admin_account)) == {"flows/production/price", "flows/elsewhere/secret-plan"}


def test_a_role_change_and_a_new_flow_are_listed_at_once(proxy, executor, price, other_namespace) -> None:
    assert flow_ids(proxy) == {"flows/production/price"}
    FlowFactory(namespace=other_namespace, name="shared")
    MembershipFactory(account=executor, namespace=other_namespace, role=Role.EXECUTOR)
    assert flow_ids(proxy) == {"flows/production/price", "flows/elsewhere/shared"}
    Flow.objects.get(name="price").delete()
    assert flow_ids(proxy) == {"flows/elsewhere/shared"}


def test_the_bare_api_key_lists_and_runs_no_flow(settings, client, price) -> None:
    settings.MILLRACE_CONNECTOR_API_KEY = API_KEY
    settings.MILLRACE_CONNECTOR_ACCOUNT = ""
    headers = {"HTTP_SPIFF_CONNECTOR_PROXY_API_KEY": API_KEY}
    response = client.get("/v1/commands", **headers)
    assert response.status_code == 200
    ids = {command["id"] for command in response.json()}
    assert "http/GetRequest" in ids and not any(i.startswith("flows/") for i in ids)
    answer = client.post("/v1/do/flows/production/price", {"quantity": 1}, content_type="application/json", **headers)
    assert (answer.status_code, answer.json()["error"]["error_code"]) == (404, "command_not_found")


def test_ten_thousand_flows_list_in_a_bounded_number_of_queries(
    proxy, namespace, django_assert_max_num_queries
) -> None:
    source = PRICE.replace("name: price\n", "", 1)  # one source for all: parsed once
    Flow.objects.bulk_create(
        [Flow(namespace=namespace, name=f"bulk-{index:05d}", source=source) for index in range(10_000)],
        batch_size=2000,
    )
    with django_assert_max_num_queries(8):
        commands = listed(proxy)
    flows = [command_id for command_id in commands if command_id.startswith("flows/")]
    assert len(flows) == 10_000
    assert flows[0] == "flows/production/bulk-00000" and flows[-1] == "flows/production/bulk-09999"
    assert commands["flows/production/bulk-04242"] == PRICE_PARAMETERS
    with CaptureQueriesContext(connection) as again:  # the second listing comes from the cache
        assert len(listed(proxy)) == len(commands)
    assert not any('"source"' in query["sql"] for query in again.captured_queries)


# --- running -----------------------------------------------------------------------------------


def test_runs_the_flow_and_answers_its_outputs(proxy, price) -> None:
    status, data = do(proxy, "flows/production/price", {"quantity": 4, "spiff__task_id": "t-1"})
    assert status == 200, data
    assert without_logs(data) == envelope({"price": "12 x anvil"})
    execution = Execution.objects.get(flow=price)
    assert (execution.status, execution.origin) == (ExecutionStatus.SUCCESS, "connector")
    assert execution.inputs["quantity"] == 4 and "spiff__task_id" not in execution.inputs


def test_a_flow_name_with_a_slash_and_a_space_is_one_command(proxy, namespace) -> None:
    FlowFactory(namespace=namespace, name="billing/monthly report", source=PRICE)
    assert "flows/production/billing/monthly report" in listed(proxy)
    status, data = do(proxy, "flows/production/billing/monthly%20report", {"quantity": 1, "item": "nail"})
    assert (status, data["command_response"]["body"]) == (200, {"price": "3 x nail"})


def test_a_failed_flow_answers_its_error(proxy, namespace) -> None:
    FlowFactory(namespace=namespace, name="failing", source=FAILING)
    status, data = do(proxy, "flows/production/failing", {})
    assert status == 500
    assert data["error"]["error_code"] == "FLOW_FAILED" and "Out of stock" in data["error"]["message"]


def test_past_the_wait_bound_it_answers_202_with_a_task_id_to_poll(proxy, namespace, settings) -> None:
    settings.MILLRACE_CONNECTOR_WAIT_SECONDS = 0
    settings.MILLRACE_WEBHOOK_WAIT_SECONDS = 30  # RunFlow's bound is not the one used
    FlowFactory(namespace=namespace, name="sleeping", source=SLEEPING)
    status, data = do(proxy, "flows/production/sleeping", {})
    execution = Execution.objects.get(flow__name="sleeping")
    assert status == 202
    assert without_logs(data) == envelope({"task_id": str(execution.pk), "status": "processing"}, 202)
    polled = proxy.get(f"/workflowdev/api/v1/executions/{execution.pk}")
    assert polled.status_code == 200
    assert polled.json()["execution"]["status"] in ("QUEUED", "RUNNING", "WAITING")


def test_with_a_callback_url_answers_202_and_puts_the_outputs(proxy, price, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/flow-callback/1", method="PUT").respond_with_json({"ok": True})
    callback_url = httpserver.url_for("/flow-callback/1")
    status, data = do(proxy, "flows/production/price", {"quantity": 2, "spiff__callback_url": callback_url})
    execution = Execution.objects.get(flow=price)
    assert status == 202
    assert without_logs(data) == envelope({"task_id": str(execution.pk), "status": "processing"}, 202)
    assert execution.trigger_data["spiffCallbackUrl"] == callback_url
    (sent,) = [request for request, _ in httpserver.log if request.path == "/flow-callback/1"]
    assert sent.method == "PUT"
    assert without_logs(sent.get_json()) == envelope({"price": "6 x anvil"})


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"quantity": 1, "colour": "red"}, "colour: unknown parameter"),
        ({}, "quantity: required"),
        ({"quantity": None}, "quantity: required"),
        ({"quantity": "four"}, "quantity: must be int"),
        ({"quantity": "4"}, "quantity: must be int"),
        ({"quantity": True}, "quantity: must be int"),
        ({"quantity": 2.5}, "quantity: expected an integer"),
        ('{"quantity": 1e999}', "quantity: expected an integer"),
        ({"quantity": 1, "item": 7}, "item: must be str"),
        ({"quantity": 1, "item": {"a": 1}}, "item: must be str"),
        ({"quantity": 1, "express": "yes"}, "express: must be bool"),
        ('{"quantity": 1, "rate": -1e999}', "rate: expected a finite number"),
        ({"quantity": 1, "due": "next tuesday"}, "due: expected an ISO-8601 date"),
        ({"quantity": 1, "size": "huge"}, "size: 'huge' is not one of small, large"),
        ({"quantity": 1, "spiff__callback_url": "ftp://example.com/cb"}, "spiff__callback_url:"),
    ],
    ids=lambda value: str(value)[:40],
)
def test_bad_inputs_are_400_invalid_parameters_naming_the_input(proxy, price, payload, named) -> None:
    status, data = do(proxy, "flows/production/price", payload)
    assert (status, data["error"]["error_code"]) == (400, "invalid_parameters"), data
    assert data["command_response"]["http_status"] == 400
    assert named in data["error"]["message"]
    assert not Execution.objects.exists()


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "5", "null"])
def test_parameters_that_are_not_an_object_are_refused(proxy, price, body) -> None:
    status, data = do(proxy, "flows/production/price", body)
    assert (status, data["error"]["error_code"]) == (400, "invalid_parameters")


@pytest.mark.parametrize("body", ["{nope", '{"quantity": ' + "9" * 5000 + "}"], ids=["malformed", "5000-digits"])
def test_a_body_that_does_not_parse_is_400_in_the_envelope(proxy, price, body) -> None:
    response = proxy.post("/v1/do/flows/production/price", body, content_type="application/json")
    assert response.status_code == 400 and response.json()["command_response"]["http_status"] == 400
    assert not Execution.objects.exists()


def test_an_oversize_body_is_413_in_the_envelope(proxy, price, settings) -> None:
    settings.MILLRACE_MAX_BODY_BYTES = 100
    response = proxy.post("/v1/do/flows/production/price", {"quantity": 1, "item": "x" * 200}, format="json")
    assert response.status_code == 413 and response.json()["command_response"]["http_status"] == 413
    assert not Execution.objects.exists()


def test_a_file_input_given_a_value_is_refused_naming_it(proxy, namespace) -> None:
    source = (
        "name: upload\ninputs: [{id: doc, type: FILE}]\ntasks: [{name: a, type: util.log, properties: {message: hi}}]\n"
    )
    FlowFactory(namespace=namespace, name="upload", source=source)
    assert listed(proxy)["flows/production/upload"] == [{"id": "doc", "type": "str", "required": False}]
    status, data = do(proxy, "flows/production/upload", {"doc": "millrace:///production/a.txt"})
    assert (status, data["error"]["error_code"]) == (400, "invalid_parameters")
    assert data["error"]["message"].startswith("Invalid parameters: doc: ")
    assert not Execution.objects.exists()


def test_a_definition_that_no_longer_compiles_is_answered_as_runflow_does(proxy, namespace) -> None:
    FlowFactory(namespace=namespace, name="broken", source="name: broken\ntasks:\n  - name: a\n    type: no.such\n")
    assert listed(proxy)["flows/production/broken"] == []
    status, data = do(proxy, "flows/production/broken", {})
    assert (status, data["error"]["error_code"]) == (422, "validation_error")
    assert "does not compile" in data["error"]["message"]
    assert not Execution.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "flows/production/nope",
        "flows/elsewhere/secret-plan",
        "flows/production",
        "flows/Production/price",
        "flows/production/price/extra",
    ],
)
def test_a_flow_the_caller_cannot_see_is_command_not_found(proxy, price, other_namespace, path) -> None:
    FlowFactory(namespace=other_namespace, name="secret-plan", source=PRICE)
    status, data = do(proxy, path, {"quantity": 1})
    assert (status, data["error"]["error_code"]) == (404, "command_not_found")
    assert data["error"]["message"] == f"Unknown command '{path}'."
    assert not Execution.objects.exists()


def test_a_viewer_cannot_run_a_flow_command(client_for, make_account, price) -> None:
    viewer = client_for(make_account(Role.VIEWER))
    status, data = do(viewer, "flows/production/price", {"quantity": 1})
    assert (status, data["error"]["error_code"]) == (404, "command_not_found")
    assert not Execution.objects.exists()


def test_a_membership_with_the_executor_role_lets_an_account_run_it(client_for, make_account, price) -> None:
    elsewhere = Namespace.objects.create(name="home")
    account = make_account(Role.EDITOR, namespace=elsewhere)
    MembershipFactory(account=account, namespace=price.namespace, role=Role.EXECUTOR)
    status, data = do(client_for(account), "flows/production/price", {"quantity": 2})
    assert (status, data["command_response"]["body"]) == (200, {"price": "6 x anvil"})


def test_the_schema_documents_the_flow_command_path(client) -> None:
    schema = client.get("/api/schema/connector/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/v1/do/flows/{namespace}/{name}"]["post"]
    assert {"200", "202", "400", "404"} <= set(operation["responses"])
