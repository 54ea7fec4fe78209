"""FILE inputs through workflowdev: `POST /api/v1/flows/{id}/execute` as multipart/form-data stores
each file under the new execution and gives the input its URI; every refusal leaves neither an
execution nor a file behind."""

import hashlib
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.roles import Role
from core import storage
from executions.models import Execution
from files.selectors import execution_file_open
from files.services import namespace_file_put
from tests.api.workflowdev.conftest import WD, assert_error
from tests.factories import AccountFactory, FlowFactory

UPLOAD = """name: upload
inputs:
  - {id: data, type: FILE, description: the rows to load}
  - {id: extra, type: FILE}
  - {id: count, type: INT, defaults: 1}
  - {id: note, type: STRING}
tasks:
  - name: show
    type: util.log
    properties:
      message: "{{ inputs.data }}"
"""
READS = """name: reads
inputs:
  - {id: data, type: FILE, required: true}
tasks:
  - name: rows
    type: data.csv
    properties:
      from: "{{ inputs.data }}"
  - name: checksum
    type: util.hash
    properties:
      from: "{{ inputs.data }}"
"""
REQUIRED = UPLOAD.replace("{id: data, type: FILE,", "{id: data, type: FILE, required: true,")


def _files() -> set[str]:
    """Every stored file key of the namespace's executions."""
    return set(storage.walk("production/executions"))


def _execute(client, flow_id: str, data: dict, **query):
    return client.post(f"{WD}/flows/{flow_id}/execute", data, format="multipart", **query)


def test_an_uploaded_file_becomes_the_inputs_uri_and_a_task_reads_it(eager, api, create_flow):
    flow = create_flow(UPLOAD)
    started = _execute(
        api, flow["id"], {"data": SimpleUploadedFile("rows.csv", b"a,b\n1,2\n"), "count": "3", "note": "hi"}
    )
    assert started.status_code == 201, started.content
    execution_id = started.json()["executionId"]
    body = api.get(f"{WD}/executions/{execution_id}").json()
    uri = f"millrace:///production/executions/{execution_id}/inputs/data/rows.csv"
    assert body["execution"]["inputs"] == {"data": uri, "count": 3, "note": "hi"}  # form text converted by type
    assert body["execution"]["status"] == "SUCCESS"
    assert json.loads(body["tasks"][0]["outputs"]) == {"message": uri}
    name, opened = execution_file_open(namespace_name="production", execution_id=execution_id, uri=uri)
    with opened:
        assert (name, opened.read()) == ("rows.csv", b"a,b\n1,2\n")


def test_tasks_read_the_uploaded_file_by_its_uri(eager, api, create_flow):
    flow = create_flow(READS)
    started = _execute(api, flow["id"], {"data": SimpleUploadedFile("rows.csv", b"a,b\n1,2\n")})
    assert started.status_code == 201, started.content
    body = api.get(f"{WD}/executions/{started.json()['executionId']}").json()
    assert body["execution"]["status"] == "SUCCESS", body
    rows, checksum = (json.loads(task["outputs"]) for task in body["tasks"])
    assert rows["rows"] == [{"a": "1", "b": "2"}]
    assert checksum["hash"] == hashlib.sha256(b"a,b\n1,2\n").hexdigest() and checksum["size"] == 8


def test_labels_and_a_json_body_keep_working(eager, api, create_flow):
    flow = create_flow(UPLOAD)
    started = _execute(api, flow["id"], {"note": "plain"}, QUERY_STRING="labels=team:data")
    assert started.status_code == 201, started.content
    execution = Execution.objects.get(pk=started.json()["executionId"])
    assert execution.inputs == {"note": "plain", "count": 1} and execution.labels == {"team": "data"}
    assert api.post(f"{WD}/flows/{flow['id']}/execute", {"count": 2}, format="json").status_code == 201


def test_an_oversize_file_is_413_and_leaves_nothing(eager, api, create_flow, settings):
    settings.MILLRACE_MAX_FILE_BYTES = 10
    flow = create_flow(UPLOAD)
    before = _files()
    upload = {"data": SimpleUploadedFile("a.txt", b"small"), "extra": SimpleUploadedFile("b.txt", b"x" * 11)}
    error = assert_error(_execute(api, flow["id"], upload), 413, "payload_too_large")
    assert "10 bytes" in error["message"]
    assert _files() == before  # the first file, stored before the second failed, is gone too
    assert not Execution.objects.exists()


def _raw(client, flow_id: str, file_name: bytes):
    """A multipart body written out, so that any file name reaches the server as sent."""
    body = (
        b'--B\r\nContent-Disposition: form-data; name="data"; filename="' + file_name + b'"\r\n'
        b"Content-Type: text/plain\r\n\r\nsome data\r\n--B--\r\n"
    )
    return client.generic("POST", f"{WD}/flows/{flow_id}/execute", body, content_type="multipart/form-data; boundary=B")


@pytest.mark.parametrize(
    ("file_name", "reason"),
    [(b"..", "required"), (b".", "required"), (b"   ", "bad file name: A file path is required.")],
    ids=["dots", "dot", "blank"],
)
def test_a_file_name_that_names_no_file_is_422(eager, api, create_flow, file_name, reason):
    """Django's parser drops a part named `.` or `..` (so the required input is missing); a blank
    name reaches the service, which refuses it before storing anything."""
    flow = create_flow(REQUIRED)
    before = _files()
    error = assert_error(_raw(api, flow["id"], file_name), 422, "validation_error")
    assert (error["details"]["field"], error["details"]["reason"]) == ("inputs.data", reason)
    assert _files() == before and not Execution.objects.exists()


@pytest.mark.parametrize(
    ("file_name", "stored"),
    [
        (b"../../etc/passwd", "passwd"),
        (b"..\\..\\evil.txt", "evil.txt"),
        (b"a\x01b\x7f.txt", "ab.txt"),
        (b"rows &#x2F; 2.csv", " 2.csv"),
        (b"x" * 300 + b".csv", "x" * 251 + ".csv"),
    ],
    ids=["slashes", "backslashes", "control-characters", "escaped-slash", "long"],
)
def test_a_file_name_keeps_only_a_safe_base_name(eager, api, create_flow, file_name, stored):
    flow = create_flow(REQUIRED)
    started = _raw(api, flow["id"], file_name)
    assert started.status_code == 201, started.content
    prefix = f"millrace:///production/executions/{started.json()['executionId']}/inputs/data/"
    assert Execution.objects.get().inputs["data"] == prefix + stored
    assert _files() >= {f"production/executions/{started.json()['executionId']}/inputs/data/{stored}"}


def test_a_file_for_an_input_that_is_not_a_file_input_is_422(eager, api, create_flow):
    flow = create_flow(UPLOAD)
    before = _files()
    for field in ("unknown", "note"):
        error = assert_error(
            _execute(api, flow["id"], {field: SimpleUploadedFile("a.txt", b"x")}), 422, "validation_error"
        )
        assert error["details"]["field"] == f"inputs.{field}" and "only FILE inputs" in error["details"]["reason"]
    assert _files() == before and not Execution.objects.exists()


def test_a_value_for_a_file_input_is_refused_whoever_it_names(eager, api, create_flow, other_namespace):
    """A caller could name a file that is not its own: another namespace's, another execution's
    of this namespace, or a guess at this one's. Only an upload gives a FILE input."""
    flow = create_flow(UPLOAD)
    first = _execute(api, flow["id"], {"data": SimpleUploadedFile("mine.txt", b"secret rows")}).json()["executionId"]
    theirs = Execution.objects.create(flow=FlowFactory(namespace=other_namespace), namespace=other_namespace)
    values = [
        f"millrace:///production/executions/{first}/inputs/data/mine.txt",
        f"millrace:///elsewhere/executions/{theirs.pk}/inputs/data/x.txt",
        "millrace:///production/_files/a.txt",
        "/etc/passwd",
    ]
    for value in values:
        for client_format, body in (("json", {"data": value}), ("multipart", {"data": value})):
            response = api.post(f"{WD}/flows/{flow['id']}/execute", body, format=client_format)
            error = assert_error(response, 422, "validation_error")
            assert error["details"]["field"] == "inputs.data" and "uploaded as a file" in error["details"]["reason"]
    assert Execution.objects.filter(flow_id=flow["id"]).count() == 1


THROUGH_A_STRING = """name: through-a-string
inputs:
  - {id: uri, type: STRING}
tasks:
  - name: rows
    type: data.csv
    properties:
      from: "{{ inputs.uri }}"
  - name: checksum
    type: util.hash
    properties:
      from: "{{ inputs.uri }}"
"""


def test_another_namespaces_file_named_in_a_plain_input_reads_as_missing(eager, api, create_flow, other_namespace):
    """The FILE check is not the only guard: a task reads files of its own namespace only."""
    secret = namespace_file_put(
        account=AccountFactory(role=Role.ADMIN), namespace=other_namespace, path="/secret.csv", content=b"k,v\nTOP,1\n"
    )
    flow = create_flow(THROUGH_A_STRING)
    uri = f"millrace:///elsewhere/_files/{secret.path}"
    started = api.post(f"{WD}/flows/{flow['id']}/execute", {"uri": uri}, format="json")
    assert started.status_code == 201, started.content
    execution_id = started.json()["executionId"]
    body = api.get(f"{WD}/executions/{execution_id}").json()
    assert body["execution"]["status"] == "FAILED"
    assert body["tasks"][0]["error"] == f"There is no file {uri} in this namespace."
    assert "TOP" not in json.dumps(body)
    assert api.get(f"{WD}/executions/{execution_id}/file", {"path": uri}).status_code == 404


def test_a_required_file_input_without_a_file_is_422(eager, api, create_flow):
    flow = create_flow(REQUIRED)
    error = assert_error(_execute(api, flow["id"], {"note": "x"}), 422, "validation_error")
    assert (error["details"]["field"], error["details"]["reason"]) == ("inputs.data", "required")


def test_an_input_given_twice_is_422(eager, api, create_flow):
    flow = create_flow(UPLOAD)
    twice = {"data": [SimpleUploadedFile("a.txt", b"1"), SimpleUploadedFile("b.txt", b"2")]}
    error = assert_error(_execute(api, flow["id"], twice), 422, "validation_error")
    assert (error["details"]["field"], error["details"]["reason"]) == ("inputs.data", "given more than once")
    error = assert_error(_execute(api, flow["id"], {"note": ["a", "b"]}), 422, "validation_error")
    assert error["details"]["field"] == "inputs.note"
    assert not Execution.objects.exists()


def test_a_form_field_is_converted_by_its_type(eager, api, create_flow):
    flow = create_flow(UPLOAD)
    error = assert_error(_execute(api, flow["id"], {"count": "many"}), 422, "validation_error")
    assert error["details"]["field"] == "inputs.count"
    assert not Execution.objects.exists()


def test_a_malformed_multipart_body_is_400(eager, api, create_flow):
    flow = create_flow(UPLOAD)
    response = api.generic(
        "POST",
        f"{WD}/flows/{flow['id']}/execute",
        b'--xyz\r\nContent-Disposition: form-data; name="data"; filename="a.txt"\r\n\r\nno end',
        content_type="multipart/form-data; boundary=",
    )
    assert_error(response, 400, "invalid_request")
    assert not Execution.objects.exists()


def test_a_chunked_multipart_body_is_refused_not_read_as_no_file(eager, api, create_flow):
    """Django reads no multipart body without a Content-Length: an optional FILE input would start without its file."""
    flow = create_flow(UPLOAD)
    body = b'--x\r\nContent-Disposition: form-data; name="data"; filename="a.txt"\r\n\r\nA\r\n--x--\r\n'
    multipart = "multipart/form-data; boundary=x"
    response = api.generic("POST", f"{WD}/flows/{flow['id']}/execute", body, content_type=multipart, CONTENT_LENGTH="")
    error = assert_error(response, 422, "validation_error")
    assert "Content-Length" in error["message"] and error["details"]["field"] == "inputs"
    assert not Execution.objects.exists() and _files() == set()


def test_a_start_of_too_many_parts_is_400(eager, api, create_flow):
    flow = create_flow(UPLOAD)
    parts = {f"extra{i}": SimpleUploadedFile("e.txt", b"e") for i in range(101)}  # DATA_UPLOAD_MAX_NUMBER_FILES
    assert "exceeded" in assert_error(_execute(api, flow["id"], parts), 400, "invalid_request")["message"]
    assert not Execution.objects.exists() and _files() == set()


def test_roles_and_namespaces(eager, api, as_role, create_flow, client_for, make_account, other_namespace):
    flow = create_flow(UPLOAD)
    upload = {"data": SimpleUploadedFile("a.txt", b"x")}
    before = _files()
    assert_error(_execute(as_role(Role.VIEWER), flow["id"], upload), 403, "forbidden")
    outsider = client_for(make_account(Role.EDITOR, namespace=other_namespace))
    assert_error(_execute(outsider, flow["id"], {"data": SimpleUploadedFile("a.txt", b"x")}), 404, "not_found")
    assert _files() == before and not Execution.objects.exists()
    executor = as_role(Role.EXECUTOR)
    assert _execute(executor, flow["id"], {"data": SimpleUploadedFile("a.txt", b"x")}).status_code == 201


def test_a_file_input_may_not_have_a_default_or_a_path_for_an_id(api):
    bad = UPLOAD.replace("{id: extra, type: FILE}", "{id: extra, type: FILE, defaults: a.txt}").replace(
        "{id: data, type: FILE,", "{id: 'a/b', type: FILE,"
    )
    error = assert_error(api.post(f"{WD}/flows", {"yamlContent": bad}, format="json"), 422, "validation_error")
    assert [(p["path"], p["line"]) for p in error["details"]["errors"]] == [
        ("inputs[0].id", 3),
        ("inputs[1].defaults", 4),
    ]
