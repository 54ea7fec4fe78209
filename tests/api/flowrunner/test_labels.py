"""Labels through FlowRunner: `labels` in the run body and the execution, `labels=key:value` in lists."""

import pytest

from accounts.roles import Role
from tests.api.flowrunner.test_auth import assert_flowrunner_error

LABELLED_NODES = """metadata:
  name: labelled
  labels:
    team: data
nodes:
  start:
    type: util.log
    params:
      message: hi
"""


@pytest.fixture
def flow(make_flow):
    flow = make_flow(name="labelled")
    flow.source = LABELLED_NODES
    flow.save(update_fields=["source"])
    return flow


@pytest.mark.django_db
def test_run_with_labels_then_read_and_filter(make_account, client_for, flow):
    client = client_for(make_account(Role.EXECUTOR))
    first = client.post(f"/api/v1/flows/{flow.id}/run", {"labels": {"env": "prod", "tier": "1"}}, format="json")
    second = client.post(f"/api/v1/flows/{flow.id}/run", {"input": {}, "labels": {"env": "dev"}}, format="json")
    assert first.status_code == second.status_code == 201, first.content
    body = client.get(f"/api/v1/executions/{first.json()['execution_id']}").json()
    assert body["labels"] == {"team": "data", "env": "prod", "tier": "1"}
    assert client.get("/api/v1/executions?labels=team:data").json()["total"] == 2
    listed = client.get("/api/v1/executions?labels=env:prod&labels=tier:1").json()
    assert [item["id"] for item in listed["executions"]] == [first.json()["execution_id"]]
    assert client.get("/api/v1/executions?labels=env:prod&labels=tier:2").json()["total"] == 0


@pytest.mark.django_db
def test_bad_labels_are_400_in_flowrunner_shape(make_account, client_for, flow):
    client = client_for(make_account(Role.EXECUTOR))
    for labels in ({"env": 1}, {"k" * 101: "v"}, {"env": "v" * 101}, ["env"]):
        response = client.post(f"/api/v1/flows/{flow.id}/run", {"labels": labels}, format="json")
        assert_flowrunner_error(response, 400, "invalid_request")
    response = client.get("/api/v1/executions?labels=nocolon")
    assert_flowrunner_error(response, 400, "invalid_request")
    assert response.json()["error"]["details"] == {"field": "labels", "reason": "not key:value"}
