"""Typed inputs through FlowRunner: a bad one is a 422 naming it; a SECRET input reads masked."""

import pytest

from accounts.roles import Role
from tests.api.flowrunner.test_auth import assert_flowrunner_error
from vault.masking import MASK

TYPED_NODES = """metadata:
  name: typed
inputs:
  - {id: mail, type: EMAIL, required: true}
  - {id: token, type: SECRET}
nodes:
  start:
    type: util.log
    params:
      message: "{{ inputs.mail }}"
"""


@pytest.fixture
def flow(make_flow):
    flow = make_flow(name="typed")
    flow.source = TYPED_NODES
    flow.save(update_fields=["source"])
    return flow


@pytest.mark.django_db
def test_typed_inputs_through_flowrunner(make_account, client_for, flow):
    client = client_for(make_account(Role.EXECUTOR))
    bad = client.post(f"/api/v1/flows/{flow.id}/run", {"input": {"mail": "nobody"}}, format="json")
    assert_flowrunner_error(bad, 422, "validation_error")
    assert "inputs.mail" in bad.content.decode()
    run = client.post(f"/api/v1/flows/{flow.id}/run", {"input": {"mail": "a@b.io", "token": "hunter22"}}, format="json")
    assert run.status_code == 201, run.content
    body = client.get(f"/api/v1/executions/{run.json()['execution_id']}").json()
    assert body["input"] == {"mail": "a@b.io", "token": MASK}
