"""FILE inputs at the service: uploads stored under the new execution, a failed start keeps no
file, values refused from every caller (FlowRunner's run included), and the engine's own starts
(a replay copies the file, a subflow carries its URI on)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from accounts.roles import Role
from core import storage
from core.errors import BadRequest, ValidationFailed
from executions.models import Execution, ExecutionStatus
from executions.services import execution_replay, execution_start
from files.selectors import execution_file_open
from tests.api.flowrunner.test_auth import assert_flowrunner_error
from tests.conftest import token_for
from tests.factories import AccountFactory, FlowFactory

E = ExecutionStatus
TAKES_A_FILE = """name: {name}
inputs:
  - {{id: data, type: FILE, required: true}}
tasks:
  - name: show
    type: util.log
    properties:
      message: "{{{{ inputs.data }}}}"
"""
PASSES_IT_ON = """name: parent
inputs:
  - {id: data, type: FILE, required: true}
tasks:
  - name: call
    type: flow.subflow
    properties:
      flowName: child
      inputs: {data: "{{ inputs.data }}"}
"""


@pytest.fixture
def eager(settings, transactional_db) -> None:
    settings.MILLRACE_ENGINE_EAGER = True


@pytest.fixture
def runner(eager, namespace):
    return AccountFactory(role=Role.EXECUTOR, default_namespace=namespace)


def _flow(namespace, name: str = "takes", source: str | None = None):
    return FlowFactory(namespace=namespace, name=name, source=source or TAKES_A_FILE.format(name=name))


def _read(execution: Execution, uri: str) -> bytes:
    _, opened = execution_file_open(namespace_name=execution.namespace.name, execution_id=str(execution.pk), uri=uri)
    with opened:
        return opened.read()


def test_an_upload_is_stored_under_the_new_execution(runner, namespace):
    execution = execution_start(
        actor=runner, flow=_flow(namespace), files={"data": SimpleUploadedFile("in.txt", b"hello")}
    )
    execution.refresh_from_db()
    assert execution.status == E.SUCCESS
    uri = f"millrace:///production/executions/{execution.pk}/inputs/data/in.txt"
    assert execution.inputs == {"data": uri} and _read(execution, uri) == b"hello"


def test_a_start_refused_after_its_files_were_stored_keeps_none(runner, namespace):
    """Labels are checked as the row is written, after the files: the files go again."""
    before = set(storage.walk("production/executions"))
    with pytest.raises(BadRequest, match="Invalid label"):
        execution_start(
            actor=runner,
            flow=_flow(namespace),
            files={"data": SimpleUploadedFile("in.txt", b"hello")},
            labels={"": "x"},
        )
    assert set(storage.walk("production/executions")) == before and not Execution.objects.exists()


def test_files_with_inputs_that_are_not_an_object_are_refused_first(runner, namespace):
    before = set(storage.walk("production/executions"))
    with pytest.raises(ValidationFailed, match="Inputs must be an object"):
        execution_start(
            actor=runner, flow=_flow(namespace), inputs=["x"], files={"data": SimpleUploadedFile("a", b"1")}
        )
    assert set(storage.walk("production/executions")) == before and not Execution.objects.exists()


def test_a_system_start_may_not_give_a_file_input_a_value_either(eager, namespace):
    """Triggers start without an actor; a FILE value is refused for them as for any caller."""
    with pytest.raises(ValidationFailed) as refused:
        execution_start(actor=None, flow=_flow(namespace), inputs={"data": "millrace:///production/_files/a.txt"})
    assert refused.value.details == [{"field": "inputs.data", "reason": refused.value.details[0]["reason"]}]
    assert "uploaded as a file" in refused.value.details[0]["reason"]


def test_flowrunners_run_refuses_a_file_value_in_its_shape(runner, namespace):
    flow = _flow(namespace)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(runner)}")
    value = {"input": {"data": "millrace:///production/_files/a.txt"}}
    assert_flowrunner_error(client.post(f"/api/v1/flows/{flow.pk}/run", value, format="json"), 422, "validation_error")
    assert not Execution.objects.exists()


def test_a_replay_keeps_the_originals_file(runner, namespace):
    original = execution_start(
        actor=runner, flow=_flow(namespace), files={"data": SimpleUploadedFile("in.txt", b"hello")}
    )
    original.refresh_from_db()
    replay = execution_replay(actor=runner, execution=original, task_run_id=original.task_runs.get().pk)
    replay.refresh_from_db()
    assert replay.status == E.SUCCESS
    assert replay.inputs == {"data": f"millrace:///production/executions/{replay.pk}/inputs/data/in.txt"}
    assert _read(replay, replay.inputs["data"]) == b"hello"


def test_a_subflow_gets_its_parents_file(runner, namespace):
    _flow(namespace, "child")
    parent = execution_start(
        actor=runner,
        flow=_flow(namespace, "parent", PASSES_IT_ON),
        files={"data": SimpleUploadedFile("in.txt", b"hello")},
    )
    parent.refresh_from_db()
    child = Execution.objects.get(parent_task__execution=parent)
    assert parent.status == E.SUCCESS
    assert child.inputs == {"data": f"millrace:///production/executions/{child.pk}/inputs/data/in.txt"}
    assert _read(child, child.inputs["data"]) == b"hello"


OPTIONAL_FILE = """name: optional
inputs:
  - {id: data, type: FILE, required: false}
  - {id: note, type: STRING, required: false}
tasks:
  - name: show
    type: util.log
    properties:
      message: "{{ inputs.note }}"
"""


def test_an_empty_value_of_an_optional_file_input_is_not_given(runner, namespace):
    """A browser form with no file chosen sends an empty part, which Django reads as the field ""."""
    flow = _flow(namespace, "optional", OPTIONAL_FILE)
    execution = execution_start(actor=runner, flow=flow, inputs={"data": "", "note": "hi"})
    execution.refresh_from_db()
    assert execution.status == E.SUCCESS and execution.inputs == {"note": "hi"}


def test_an_empty_value_of_a_required_file_input_is_required(runner, namespace):
    with pytest.raises(ValidationFailed) as refused:
        execution_start(actor=runner, flow=_flow(namespace), inputs={"data": ""})
    assert refused.value.details == [{"field": "inputs.data", "reason": "required"}]
    assert not Execution.objects.exists()


@pytest.mark.parametrize("value", [" ", "0", "millrace:///production/_files/a.txt"])
def test_a_value_that_is_not_empty_stays_refused(runner, namespace, value):
    with pytest.raises(ValidationFailed) as refused:
        execution_start(actor=runner, flow=_flow(namespace, "optional", OPTIONAL_FILE), inputs={"data": value})
    assert "uploaded as a file" in refused.value.details[0]["reason"]


def test_an_empty_value_of_another_input_type_is_kept(runner, namespace):
    execution = execution_start(actor=runner, flow=_flow(namespace, "optional", OPTIONAL_FILE), inputs={"note": ""})
    execution.refresh_from_db()
    assert execution.inputs == {"note": ""}


def test_a_browser_forms_empty_file_part_starts_the_flow(runner, namespace, client_for):
    """workflowdev's execute, as a browser posts a form whose optional file field was left empty."""
    flow = _flow(namespace, "optional", OPTIONAL_FILE)
    body = (
        b'--B\r\nContent-Disposition: form-data; name="data"; filename=""\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n\r\n"
        b'--B\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n--B--\r\n'
    )
    response = client_for(runner).generic(
        "POST", f"/workflowdev/api/v1/flows/{flow.pk}/execute", body, content_type="multipart/form-data; boundary=B"
    )
    assert response.status_code == 201, response.content
    assert Execution.objects.get().inputs == {"note": "hi"}
