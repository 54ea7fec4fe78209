"""A subflow's files are its own: the parent's files given in its inputs are copied under the child,
and the child's files in its outputs are copied back under the parent's subflow step, so each
execution's download and page serve what it names and deleting one leaves the other's."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from accounts.roles import Role
from core import storage
from executions.models import Execution, ExecutionStatus
from executions.services import execution_start
from files.selectors import execution_file_open
from tests.factories import AccountFactory, FlowFactory

CHILD = """name: child
inputs:
  - {id: data, type: FILE, required: true}
tasks:
  - name: write
    type: file.write
    properties: {content: "made by the child", fileName: made.txt}
outputs:
  - {id: given, value: "{{ inputs.data }}"}
  - {id: made, value: "{{ outputs.write.uri }}"}
"""
PARENT = """name: parent
inputs:
  - {id: rows, type: FILE, required: true}
tasks:
  - name: call
    type: flow.subflow
    properties:
      flowName: child
      inputs: {data: "{{ inputs.rows }}"}
"""


@pytest.fixture
def runs(settings, transactional_db, namespace):
    settings.MILLRACE_ENGINE_EAGER = True
    runner = AccountFactory(role=Role.EXECUTOR, default_namespace=namespace)
    FlowFactory(namespace=namespace, name="child", source=CHILD)
    parent = execution_start(
        actor=runner,
        flow=FlowFactory(namespace=namespace, name="parent", source=PARENT),
        files={"rows": SimpleUploadedFile("in.csv", b"a,b\n")},
    )
    parent.refresh_from_db()
    child = Execution.objects.get(parent_task__execution=parent)
    assert parent.status == ExecutionStatus.SUCCESS, parent.error
    return parent, child


def _read(execution: Execution, uri: str) -> bytes:
    _, opened = execution_file_open(namespace_name="production", execution_id=str(execution.pk), uri=uri)
    with opened:
        return opened.read()


def test_the_child_reads_its_copy_of_the_parents_file(runs):
    _, child = runs
    assert child.inputs["data"] == f"millrace:///production/executions/{child.pk}/inputs/rows/in.csv"
    assert _read(child, child.inputs["data"]) == b"a,b\n"


def test_the_parent_reads_its_copies_of_the_childs_files(runs):
    parent, child = runs
    outputs = parent.task_runs.get(name="call").outputs["outputs"]
    under = f"millrace:///production/executions/{parent.pk}/subflows/{child.pk}/"
    assert outputs["given"] == under + "inputs/rows/in.csv" and outputs["made"].startswith(under + "tasks/")
    assert _read(parent, outputs["given"]) == b"a,b\n"
    assert _read(parent, outputs["made"]) == b"made by the child"


def test_deleting_one_leaves_the_others_files(runs):
    parent, child = runs
    made = parent.task_runs.get(name="call").outputs["outputs"]["made"]
    with transaction.atomic():
        child.delete()
    assert not list(storage.walk(f"production/executions/{child.pk}"))
    assert _read(parent, made) == b"made by the child"
