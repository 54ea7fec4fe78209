"""Typed inputs through workflowdev: converted at execute, 422 naming the input, SECRET masked on reads,
declaration problems with their line."""

from tests.api.workflowdev.conftest import WD, assert_error
from vault.masking import MASK

TYPED = """name: typed
inputs:
  - {id: env, type: SELECT, values: [dev, prod]}
  - {id: day, type: DATE}
  - {id: token, type: SECRET}
tasks:
  - name: hello
    type: util.log
    properties:
      message: "{{ inputs.env }}"
"""


def test_execute_converts_and_masks_a_secret_input(api, create_flow):
    flow = create_flow(TYPED)
    started = api.post(
        f"{WD}/flows/{flow['id']}/execute", {"env": "dev", "day": "2026-01-31", "token": "hunter22"}, format="json"
    )
    assert started.status_code == 201, started.content
    execution = api.get(f"{WD}/executions/{started.json()['executionId']}").json()["execution"]
    assert execution["inputs"] == {"env": "dev", "day": "2026-01-31", "token": MASK}
    assert "hunter22" not in api.get(f"{WD}/executions").content.decode()


def test_a_bad_typed_input_is_422_naming_it(api, create_flow):
    flow = create_flow(TYPED)
    error = assert_error(
        api.post(f"{WD}/flows/{flow['id']}/execute", {"env": "qa"}, format="json"), 422, "validation_error"
    )
    assert error["details"]["field"] == "inputs.env" and "not one of dev, prod" in error["details"]["reason"]
    error = assert_error(
        api.post(f"{WD}/flows/{flow['id']}/execute", {"day": "31/01"}, format="json"), 422, "validation_error"
    )
    assert error["details"]["field"] == "inputs.day"


def test_a_bad_declaration_is_422_with_its_line(api):
    bad = "name: bad\ninputs:\n  - id: env\n    type: SELECT\n" + TYPED.split("\n", 5)[5]
    error = assert_error(api.post(f"{WD}/flows", {"yamlContent": bad}, format="json"), 422, "validation_error")
    assert [(p["path"], p["line"]) for p in error["details"]["errors"]] == [("inputs[0].values", 3)]
