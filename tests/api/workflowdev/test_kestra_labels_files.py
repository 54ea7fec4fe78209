"""Kestra's Labels and storage tasks through workflowdev: labels shown on the execution, files
kept to their namespace and execution, bad input refused with its line or failing its step."""

import json
import uuid

import pytest

from core import storage
from flows.models import Flow
from tests.api.workflowdev.conftest import WD, assert_error

LABELS = """\
id: tagged
namespace: production
inputs:
  - id: customer
    type: STRING
    defaults: acme
tasks:
  - id: tag
    type: io.kestra.plugin.core.execution.Labels
    labels:
      customer: "{{ inputs.customer }}"
  - id: note
    type: io.kestra.plugin.core.storage.Write
    content: "for {{ inputs.customer }}"
"""
READS = """\
id: reads
namespace: production
inputs:
  - id: target
    type: STRING
tasks:
  - id: measure
    type: io.kestra.plugin.core.storage.{kind}
    uri: "{{{{ inputs.target }}}}"
"""


def execute(api, flow_id: str, inputs: dict, query: str = "") -> dict:
    started = api.post(f"{WD}/flows/{flow_id}/execute?{query}", inputs, format="json")
    assert started.status_code == 201, started.content
    return api.get(f"{WD}/executions/{started.json()['executionId']}").json()


@pytest.mark.usefixtures("eager")
def test_labels_set_by_a_task_show_on_the_execution_and_filter_the_list(api, create_flow):
    flow = create_flow(LABELS)
    detail = execute(api, flow["id"], {"customer": "globex"}, "labels=env:prod")
    execution = detail["execution"]
    assert execution["status"] == "SUCCESS", execution["error"]
    assert execution["labels"] == {"env": "prod", "customer": "globex"}
    note = next(json.loads(task["outputs"]) for task in detail["tasks"] if task["taskName"] == "note")
    assert storage.open_file(note["uri"].removeprefix("millrace:///")).read() == b"for globex"
    execute(api, flow["id"], {"customer": "initech"})
    listed = api.get(f"{WD}/executions?labels=customer:globex").json()
    assert [item["id"] for item in listed] == [execution["id"]]
    assert listed[0]["labels"] == execution["labels"]


def test_labels_of_the_wrong_type_are_a_422_with_the_line(api):
    source = LABELS.replace('customer: "{{ inputs.customer }}"', "- just-a-text")
    error = assert_error(api.post(f"{WD}/flows", {"yamlContent": source}, format="json"), 422, "validation_error")
    assert error["details"]["errors"] == [
        {
            "path": "tasks[0].labels[0]",
            "line": 11,
            "message": "invalid input for execution.labels: 'just-a-text' is not of type 'object'",
        }
    ]
    assert not Flow.objects.exists()


def test_an_unmapped_storage_task_is_a_422_naming_the_type(api):
    source = LABELS.replace("storage.Write", "storage.Reverse")
    error = assert_error(api.post(f"{WD}/flows", {"yamlContent": source}, format="json"), 422, "validation_error")
    [problem] = error["details"]["errors"]
    assert (problem["path"], problem["line"]) == ("tasks[1].type", 13)
    assert problem["message"].startswith("Kestra type 'io.kestra.plugin.core.storage.Reverse' is not supported")


@pytest.mark.usefixtures("eager")
def test_a_too_long_label_fails_the_task_clearly(api, create_flow):
    flow = create_flow(LABELS)
    execution = execute(api, flow["id"], {"customer": "x" * 101})["execution"]
    assert execution["status"] == "FAILED"
    assert execution["labels"] == {}
    assert "invalid label 'customer': a label value may have at most 100 characters" in execution["error"]


@pytest.mark.usefixtures("eager")
@pytest.mark.parametrize("kind", ["Size", "Delete"])
def test_a_file_of_another_namespace_is_a_missing_file(api, create_flow, other_namespace, kind):
    theirs = f"{other_namespace.name}/executions/{uuid.uuid4()}/tasks/t/secret.csv"
    storage.put(theirs, b"theirs")
    flow = create_flow(READS.format(kind=kind))
    missing = f"millrace:///production/executions/{uuid.uuid4()}/nothing.csv"
    for target in (f"millrace:///{theirs}", missing):
        detail = execute(api, flow["id"], {"target": target})
        if kind == "Delete":  # errorOnMissing is false: it deleted nothing, as for a missing file
            assert detail["execution"]["status"] == "SUCCESS", detail["execution"]["error"]
            assert json.loads(detail["tasks"][0]["outputs"]) == {"uri": target, "deleted": False}
        else:
            assert detail["execution"]["status"] == "FAILED"
            assert f"There is no file {target} in this namespace." in detail["execution"]["error"]
    assert storage.exists(theirs)


@pytest.mark.usefixtures("eager")
def test_a_dot_dot_path_fails_the_task(api, create_flow):
    storage.put("production/_files/kept.csv", b"kept")
    flow = create_flow(READS.format(kind="Delete"))
    target = f"millrace:///production/executions/{uuid.uuid4()}/../../_files/kept.csv"
    execution = execute(api, flow["id"], {"target": target})["execution"]
    assert execution["status"] == "FAILED"
    assert "'..'" in execution["error"]
    assert storage.exists("production/_files/kept.csv")
