"""An approval carries what its gate asks: `message`, rendered, in the list, the detail and the schema."""

import pytest
from rest_framework.test import APIClient

from tests.api.workflowdev.conftest import API, WD

TEMPLATED = """name: templated-gate
inputs:
  - id: version
    type: STRING
    defaults: "42"
tasks:
  - name: ask
    type: flow.pause
    properties:
      message: "Ship version {{ inputs.version }}?"
"""
SILENT = """name: silent-gate
tasks:
  - name: ask
    type: flow.pause
"""


def _pending(api, create_flow, source: str) -> dict:
    flow = create_flow(source)
    run = api.post(f"{WD}/flows/{flow['id']}/execute").json()["executionId"]
    listed = api.get(f"{API}/approvals?executionId={run}").json()
    assert len(listed) == 1
    return listed[0]


def test_the_message_is_rendered_with_the_inputs(eager, api, create_flow):
    approval = _pending(api, create_flow, TEMPLATED)
    assert approval["message"] == "Ship version 42?"
    assert api.get(f"{API}/approvals/{approval['id']}").json()["message"] == "Ship version 42?"
    decided = api.post(f"{API}/approvals/{approval['id']}/approve", {}, format="json").json()
    assert decided["message"] == "Ship version 42?" and decided["status"] == "approved"


def test_a_gate_without_a_message_answers_null(eager, api, create_flow):
    assert _pending(api, create_flow, SILENT)["message"] is None


@pytest.mark.django_db
def test_the_schema_documents_the_field():
    schema = APIClient().get("/api/schema/workflowdev/?format=json").json()
    field = schema["components"]["schemas"]["Approval"]["properties"]["message"]
    assert field["type"] == "string" and field.get("nullable") is True
    assert "asks" in field["description"]
