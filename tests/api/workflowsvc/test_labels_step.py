"""Labels an `execution.labels` task sets show in workflowsvc's `_labels`, with the run's own."""

import pytest

from tests.api.workflowsvc.conftest import url

TAGGING = """
name: tagging
labels: {team: data}
tasks:
  - name: tag
    type: execution.labels
    properties:
      labels: {stage: loaded, run: "{{ execution.flow }}"}
"""


@pytest.mark.usefixtures("transactional_db")
def test_labels_set_during_the_run_are_read_back(api, make_flow, settings):
    settings.MILLRACE_ENGINE_EAGER = True
    flow = make_flow(TAGGING)
    created = api.post(url(), {"_workflowDefId": str(flow.pk), "_labels": {"env": "prod"}}, format="json")
    assert created.status_code == 201, created.content
    run = api.get(url(f"/{created.json()['_id']}")).json()
    assert run["_status"] == "COMPLETED", run
    assert run["_labels"] == {"team": "data", "env": "prod", "stage": "loaded", "run": flow.name}
