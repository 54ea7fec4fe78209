"""Labels through workflowdev: given at execute, shown on reads, filtered in lists, refused when bad."""

from executions.models import ExecutionLabel
from tests.api.workflowdev.conftest import WD, assert_error

LABELLED = """name: labelled
labels:
  team: data
tasks:
  - name: hello
    type: util.log
    properties:
      message: hi
"""


def test_execute_adds_labels_and_reads_show_them(api, create_flow):
    flow = create_flow(LABELLED)
    started = api.post(f"{WD}/flows/{flow['id']}/execute?labels=env:prod&labels=url:http://x,y", format="json")
    assert started.status_code == 201, started.content
    execution = api.get(f"{WD}/executions/{started.json()['executionId']}").json()["execution"]
    assert execution["labels"] == {"team": "data", "env": "prod", "url": "http://x,y"}
    listed = api.get(f"{WD}/executions").json()
    assert listed[0]["labels"] == execution["labels"]


def test_lists_filter_on_every_label_given(api, create_flow):
    flow = create_flow(LABELLED)
    for query in ("labels=env:prod", "labels=env:prod&labels=tier:1", "labels=env:dev"):
        assert api.post(f"{WD}/flows/{flow['id']}/execute?{query}").status_code == 201
    assert api.get(f"{WD}/executions?labels=team:data")["X-Total-Count"] == "3"
    assert api.get(f"{WD}/executions?labels=env:prod")["X-Total-Count"] == "2"
    assert api.get(f"{WD}/executions?labels=env:prod&labels=tier:1")["X-Total-Count"] == "1"
    assert api.get(f"{WD}/executions?labels=env:prod&labels=tier:2")["X-Total-Count"] == "0"


def test_bad_labels_are_400_and_bad_definitions_422_with_the_line(api, create_flow):
    flow = create_flow(LABELLED)
    for query in ("labels=nocolon", "labels=:v", f"labels=k:{'v' * 101}", f"labels={'k' * 101}:v"):
        error = assert_error(api.post(f"{WD}/flows/{flow['id']}/execute?{query}"), 400, "invalid_request")
        assert "label" in error["message"]
        error = assert_error(api.get(f"{WD}/executions?{query}"), 400, "invalid_request")
        assert error["details"]["field"] == "labels"
    assert not ExecutionLabel.objects.exists()
    bad = "name: bad\nlabels:\n  n: 3\ntasks:\n  - name: a\n    type: util.log\n    properties: {message: x}\n"
    error = assert_error(api.post(f"{WD}/flows", {"yamlContent": bad}, format="json"), 422, "validation_error")
    assert [(p["path"], p["line"]) for p in error["details"]["errors"]] == [("labels.n", 3)]
