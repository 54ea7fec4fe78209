"""Files through FlowRunner: `POST /api/v1/flows/{id}/run` as multipart/form-data uploads FILE inputs
(the shared upload code, FlowRunner's error shape), and `GET /api/v1/executions/{id}/file?path=`
streams a file of an execution to whoever may read it, nothing of another execution or namespace."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.roles import Role
from api.uploads import MULTIPART_ROOM, body_limit
from core import storage
from executions.models import Execution, ExecutionStatus
from executions.services import execution_replay
from files.services import execution_file_put
from tests.api.flowrunner.test_auth import assert_flowrunner_error
from tests.factories import ExecutionFactory, FlowFactory

PREFIXES = ["", "/flowrunner"]
UPLOAD = """name: upload
inputs:
  - {id: data, type: FILE, required: true}
  - {id: extra, type: FILE}
  - {id: count, type: INT}
  - {id: note, type: STRING}
tasks:
  - name: rows
    type: data.csv
    properties:
      from: "{{ inputs.data }}"
"""


@pytest.fixture
def eager(settings, transactional_db) -> None:
    settings.MILLRACE_ENGINE_EAGER = True


@pytest.fixture
def flow(eager, namespace):
    return FlowFactory(namespace=namespace, name="upload", source=UPLOAD)


@pytest.fixture
def api(make_account, client_for):
    return client_for(make_account(role=Role.EXECUTOR))


def _files() -> set[str]:
    return set(storage.walk("production/executions"))


def _run(client, flow, data, prefix: str = ""):
    return client.post(f"{prefix}/api/v1/flows/{flow.pk}/run", data, format="multipart")


def _raw(client, flow, body: bytes, **extra):
    return client.generic(
        "POST", f"/api/v1/flows/{flow.pk}/run", body, content_type="multipart/form-data; boundary=B", **extra
    )


# --- run with files -------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", PREFIXES)
def test_an_uploaded_file_becomes_the_inputs_uri(api, flow, prefix):
    data = {"data": SimpleUploadedFile("rows.csv", b"a,b\n1,2\n"), "count": "3", "note": "weekly"}
    response = _run(api, flow, data, prefix)
    assert response.status_code == 201, response.content
    assert set(response.json()) == {"execution_id", "flow_id", "status", "created_at"}
    execution = Execution.objects.get(pk=response.json()["execution_id"])
    uri = f"millrace:///production/executions/{execution.pk}/inputs/data/rows.csv"
    assert execution.inputs == {"data": uri, "count": 3, "note": "weekly"}
    assert execution.status == ExecutionStatus.SUCCESS
    assert execution.task_runs.get().outputs["rows"] == [{"a": "1", "b": "2"}]


def test_an_empty_file_part_of_an_optional_input_is_not_given(api, flow):
    body = (
        b'--B\r\nContent-Disposition: form-data; name="data"; filename="in.csv"\r\n\r\nx\r\n'
        b'--B\r\nContent-Disposition: form-data; name="extra"; filename=""\r\n\r\n\r\n--B--\r\n'
    )
    response = _raw(api, flow, body)
    assert response.status_code == 201, response.content
    assert set(Execution.objects.get().inputs) == {"data"}


def test_a_json_body_and_its_labels_keep_working(api, eager, namespace):
    plain = FlowFactory(namespace=namespace, name="plain")
    response = api.post(f"/api/v1/flows/{plain.pk}/run", {"input": {}, "labels": {"team": "ops"}}, format="json")
    assert response.status_code == 201, response.content
    assert Execution.objects.get().labels["team"] == "ops"


def test_an_oversize_file_is_413_and_leaves_nothing(api, flow, settings):
    settings.MILLRACE_MAX_FILE_BYTES = 10
    before = _files()
    data = {"data": SimpleUploadedFile("a.txt", b"small"), "extra": SimpleUploadedFile("b.txt", b"x" * 11)}
    assert_flowrunner_error(_run(api, flow, data), 413, "payload_too_large")
    assert _files() == before and not Execution.objects.exists()


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        ({"note": SimpleUploadedFile("n.txt", b"x")}, "inputs.note", "not a FILE input"),
        ({"data": "millrace:///production/_files/a.txt"}, "inputs.data", "uploaded as a file"),
        ({"note": "only"}, "inputs.data", "required"),
        ({"data": SimpleUploadedFile("a.txt", b"x"), "count": "many"}, "inputs.count", "INT"),
    ],
    ids=["file-for-a-string", "value-for-a-file", "required", "bad-int"],
)
def test_bad_inputs_are_422_in_flowrunners_shape(api, flow, data, field, reason):
    response = _run(api, flow, data)
    assert_flowrunner_error(response, 422, "validation_error")
    details = response.json()["error"]["details"]
    assert any(item["field"] == field and reason in item["reason"] for item in details["errors"]), details
    assert not Execution.objects.exists() and _files() == set()


def test_an_input_given_twice_is_422(api, flow):
    body = (
        b'--B\r\nContent-Disposition: form-data; name="data"; filename="a.txt"\r\n\r\nA\r\n'
        b'--B\r\nContent-Disposition: form-data; name="data"; filename="b.txt"\r\n\r\nB\r\n--B--\r\n'
    )
    response = _raw(api, flow, body)
    assert_flowrunner_error(response, 422, "validation_error")
    details = response.json()["error"]["details"]
    assert details["errors"] == [{"field": "inputs.data", "reason": "given more than once"}]
    assert not Execution.objects.exists() and _files() == set()


def test_malformed_chunked_and_oversized_multipart_bodies_are_refused(api, flow):
    malformed = b'--xyz\r\nContent-Disposition: form-data; name="data"; filename="a.txt"\r\n\r\nno end'
    response = api.generic(
        "POST", f"/api/v1/flows/{flow.pk}/run", malformed, content_type="multipart/form-data; boundary="
    )
    assert_flowrunner_error(response, 400, "invalid_request")
    chunked = b'--B\r\nContent-Disposition: form-data; name="data"; filename="a.txt"\r\n\r\nA\r\n--B--\r\n'
    response = _raw(api, flow, chunked, CONTENT_LENGTH="")
    assert_flowrunner_error(response, 422, "validation_error")
    assert "Content-Length" in response.json()["error"]["message"]
    parts = {f"extra{i}": SimpleUploadedFile("e.txt", b"e") for i in range(101)}  # DATA_UPLOAD_MAX_NUMBER_FILES
    assert_flowrunner_error(_run(api, flow, parts), 400, "invalid_request")
    assert not Execution.objects.exists() and _files() == set()


def test_roles_and_namespaces(flow, make_account, client_for, other_namespace):
    upload = {"data": SimpleUploadedFile("a.txt", b"x")}
    assert_flowrunner_error(_run(client_for(make_account(role=Role.VIEWER)), flow, upload), 403, "forbidden")
    outsider = client_for(make_account(role=Role.EDITOR, namespace=other_namespace))
    upload = {"data": SimpleUploadedFile("a.txt", b"x")}
    assert_flowrunner_error(_run(outsider, flow, upload), 404, "not_found")
    assert_flowrunner_error(_run(client_for(None), flow, {"data": SimpleUploadedFile("a", b"x")}), 401, "unauthorized")
    assert not Execution.objects.exists() and _files() == set()


def test_a_multipart_run_may_be_as_large_as_a_file(settings):
    """The body cap of a multipart run is the file cap (plus framing), as for workflowdev's execute;
    a JSON run, and any other path, keep MILLRACE_MAX_BODY_BYTES."""
    settings.MILLRACE_MAX_BODY_BYTES, settings.MILLRACE_MAX_FILE_BYTES = 1000, 3000
    multipart = "multipart/form-data; boundary=x"
    for path in ("/api/v1/flows/abc/run", "/flowrunner/api/v1/flows/abc/run"):
        assert body_limit(path, multipart) == 3000 + MULTIPART_ROOM
        assert body_limit(path, "application/json") == 1000
    for path in ("/api/v1/flows/abc/runs", "/api/v1/flows/abc/run/x", "/workflowsvc/api/v1/flows/abc/run"):
        assert body_limit(path, multipart) == 1000


# --- download -------------------------------------------------------------------------------


def _put(execution, path: str = "outputs/report.csv", content: bytes = b"id,total\n") -> str:
    return execution_file_put(
        namespace_name=execution.namespace.name, execution_id=str(execution.pk), path=path, content=content
    )


@pytest.fixture
def execution(namespace):
    return ExecutionFactory(flow=FlowFactory(namespace=namespace))


@pytest.mark.parametrize("prefix", PREFIXES)
def test_a_viewer_downloads_a_file_of_the_execution(make_account, client_for, execution, prefix):
    uri = _put(execution)
    response = client_for(make_account(role=Role.VIEWER)).get(
        f"{prefix}/api/v1/executions/{execution.pk}/file", {"path": uri}
    )
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"id,total\n"
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"] == 'attachment; filename="report.csv"'
    assert response["X-Content-Type-Options"] == "nosniff" and "sandbox" in response["Content-Security-Policy"]


def test_an_uploaded_input_is_downloaded_back(api, flow):
    started = _run(api, flow, {"data": SimpleUploadedFile("rows.csv", b"a\n1\n")}).json()
    uri = Execution.objects.get(pk=started["execution_id"]).inputs["data"]
    response = api.get(f"/api/v1/executions/{started['execution_id']}/file", {"path": uri})
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"a\n1\n"


def test_a_replay_serves_its_copy_of_the_input(api, flow, make_account):
    started = _run(api, flow, {"data": SimpleUploadedFile("rows.csv", b"a\n1\n")}).json()
    original = Execution.objects.get(pk=started["execution_id"])
    replay = execution_replay(
        actor=make_account(role=Role.EXECUTOR), execution=original, task_run_id=original.task_runs.get().pk
    )
    replay.refresh_from_db()
    response = api.get(f"/api/v1/executions/{replay.pk}/file", {"path": replay.inputs["data"]})
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"a\n1\n"


def test_a_file_of_another_execution_or_a_missing_one_is_not_found(api, execution, namespace):
    sibling = ExecutionFactory(flow=FlowFactory(namespace=namespace))
    for uri in (_put(sibling), f"millrace:///production/executions/{execution.pk}/none.txt"):
        response = api.get(f"/api/v1/executions/{execution.pk}/file", {"path": uri})
        assert_flowrunner_error(response, 404, "not_found")
        assert response.json()["error"]["message"] == "File not found."


def test_another_namespaces_execution_or_file_answers_like_a_missing_one(api, execution, other_namespace):
    theirs = ExecutionFactory(flow=FlowFactory(namespace=other_namespace))
    their_uri = _put(theirs)
    for execution_id in (theirs.pk, "00000000-0000-0000-0000-000000000000", "not-an-id"):
        response = api.get(f"/api/v1/executions/{execution_id}/file", {"path": their_uri})
        assert_flowrunner_error(response, 404, "not_found")
        assert response.json()["error"]["message"] == "Execution not found."
    # their URI through an execution of ours: a missing file, not a hint that it exists elsewhere
    response = api.get(f"/api/v1/executions/{execution.pk}/file", {"path": their_uri})
    assert response.json()["error"]["message"] == "File not found."


@pytest.mark.parametrize(
    "path", ["", "a.txt", "https://example.com/a", "millrace:///production/executions/../../etc/passwd", "millrace:///"]
)
def test_a_path_that_is_no_uri_is_400(api, execution, path):
    response = api.get(f"/api/v1/executions/{execution.pk}/file", {"path": path})
    assert_flowrunner_error(response, 400, "invalid_request")


def test_anonymous_callers_are_401(client_for, execution):
    response = client_for(None).get(f"/api/v1/executions/{execution.pk}/file", {"path": _put(execution)})
    assert_flowrunner_error(response, 401, "unauthorized")


def test_the_root_serves_flowrunners_download_and_not_workflowdevs_metas(api, execution):
    """FlowRunner owns /api/v1/executions at the root (the default MILLRACE_ROOT_DIALECT)."""
    uri = _put(execution)
    assert api.get(f"/api/v1/executions/{execution.pk}/file", {"path": uri}).status_code == 200
    assert api.get(f"/api/v1/executions/{execution.pk}/file/metas", {"path": uri}).status_code == 404
    assert api.get(f"/flowrunner/api/v1/executions/{execution.pk}/file/metas", {"path": uri}).status_code == 404
