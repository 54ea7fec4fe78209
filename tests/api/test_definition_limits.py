"""Definitions past the YAML limits are the dialects' validation errors with a line, never a 500."""

import pytest

from accounts.roles import Role
from tests.api.flowrunner.conftest import nodes_yaml
from tests.api.flowrunner.test_auth import assert_flowrunner_error
from tests.api.workflowdev.conftest import HELLO_YAML, WD, assert_error

pytestmark = pytest.mark.django_db

HUGE_INTEGER = "1" * 5000  # past Python's int/str conversion limit: int() raises ValueError


def test_flowrunner_create_refuses_a_huge_integer_with_its_path_and_line(make_account, client_for):
    client = client_for(make_account(Role.EDITOR))
    definition = nodes_yaml().replace("      message:", f"      count: {HUGE_INTEGER}\n      message:", 1)
    response = client.post("/api/v1/flows", {"definition": definition}, format="json")
    assert_flowrunner_error(response, 422, "validation_error")
    [problem] = response.json()["error"]["details"]["errors"]
    assert problem["path"] == "nodes.start.params.count" and problem["line"] == 10
    assert "4300 digits" in problem["message"]


def test_workflowdev_validate_and_create_refuse_a_huge_integer(make_account, client_for):
    client = client_for(make_account(Role.EDITOR))
    source = HELLO_YAML + f"inputs:\n  - name: n\n    type: INT\n    defaults: {HUGE_INTEGER}\n"
    checked = client.post(f"{WD}/flows/validate", {"yamlContent": source}, format="json")
    assert checked.status_code == 200 and checked.json()["valid"] is False
    assert checked.json()["errors"][0]["path"] == "inputs[0].defaults" and checked.json()["errors"][0]["line"] == 10
    created = client.post(f"{WD}/flows", {"yamlContent": source, "namespace": "production"}, format="json")
    assert assert_error(created, 422, "validation_error")["details"]["errors"][0]["line"] == 10


def test_absurd_nesting_is_a_validation_error_in_both_dialects(make_account, client_for):
    client = client_for(make_account(Role.EDITOR))
    response = client.post("/api/v1/flows", {"definition": "nodes: " + "[" * 50_000}, format="json")
    assert_flowrunner_error(response, 422, "validation_error")
    assert "64 levels" in response.json()["error"]["message"]
    checked = client.post(f"{WD}/flows/validate", {"yamlContent": "tasks: " + "[" * 50_000}, format="json")
    assert checked.json()["valid"] is False and "64 levels" in checked.json()["errors"][0]["message"]


def test_flowrunner_create_refuses_a_number_json_cannot_hold(make_account, client_for):
    """`.inf` once saved fine and then left every run of the flow RUNNING: its step could not be written."""
    client = client_for(make_account(Role.EDITOR))
    definition = nodes_yaml().replace("      message:", "      ratio: .inf\n      message:", 1)
    response = client.post("/api/v1/flows", {"definition": definition}, format="json")
    assert_flowrunner_error(response, 422, "validation_error")
    [problem] = response.json()["error"]["details"]["errors"]
    assert problem["path"] == "nodes.start.params.ratio" and problem["line"] == 10
