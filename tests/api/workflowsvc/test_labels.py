"""Labels through workflowsvc: `_labels` when creating a run and on every run read."""

import pytest

from tests.api.workflowsvc.conftest import error_of, url

pytestmark = pytest.mark.django_db
LABELLED = """
name: labelled
labels: {team: data}
tasks:
  - name: hello
    type: util.log
    properties: {message: hi}
"""


def test_create_with_labels_and_read_them(api, make_flow):
    flow = make_flow(LABELLED)
    response = api.post(url(), {"_workflowDefId": str(flow.pk), "_labels": {"env": "prod"}}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["_labels"] == {"team": "data", "env": "prod"}
    assert api.get(url(f"/{response.json()['_id']}")).json()["_labels"] == {"team": "data", "env": "prod"}
    assert api.get(url()).json()["_list"][0]["_labels"] == {"team": "data", "env": "prod"}


@pytest.mark.parametrize("labels", [{"env": 1}, {"env": "v" * 101}, {"k" * 101: "v"}, "env:prod"])
def test_bad_labels_are_400(api, make_flow, labels):
    response = api.post(url(), {"_workflowDefId": str(make_flow(LABELLED).pk), "_labels": labels}, format="json")
    assert response.status_code == 400, response.content
    assert "abel" in error_of(response)["_message"]
