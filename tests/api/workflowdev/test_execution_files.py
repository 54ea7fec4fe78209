"""The files of an execution (`GET /api/v1/executions/{id}/file?path=<uri>` and `/file/metas`):
what its tasks wrote, streamed to whoever may read the execution, and nothing of another's."""

import json

import pytest

from accounts.roles import Role
from files.services import execution_file_put
from tests.api.workflowdev.conftest import WD, assert_error
from tests.factories import ExecutionFactory, FlowFactory, NamespaceFactory

CSV_FLOW = """\
name: report
tasks:
  - name: table
    type: data.csv
    properties:
      rows: [{city: Lyon, n: 3}, {city: Oslo, n: 5}]
      output: FILE
      fileName: cities.csv
"""


@pytest.fixture
def execution(namespace):
    return ExecutionFactory(flow=FlowFactory(namespace=namespace))


def put(execution, path: str = "outputs/report.txt", content: bytes = b"the report") -> str:
    return execution_file_put(
        namespace_name=execution.namespace.name, execution_id=str(execution.pk), path=path, content=content
    )


def test_a_task_file_is_downloaded_from_its_execution(eager, api, create_flow):
    flow = create_flow(CSV_FLOW)
    started = api.post(f"{WD}/flows/{flow['id']}/execute", {}, format="json").json()
    detail = api.get(f"{WD}/executions/{started['executionId']}").json()
    assert detail["execution"]["status"] == "SUCCESS", detail
    uri = json.loads(detail["tasks"][0]["outputs"])["uri"]
    assert uri.startswith(f"millrace:///production/executions/{started['executionId']}/")
    response = api.get(f"{WD}/executions/{started['executionId']}/file", {"path": uri})
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"city,n\r\nLyon,3\r\nOslo,5\r\n"
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"] == 'attachment; filename="cities.csv"'
    metas = api.get(f"{WD}/executions/{started['executionId']}/file/metas", {"path": uri})
    assert metas.status_code == 200 and metas.json() == {"size": 24}


def test_viewers_read_an_executions_files(as_role, execution):
    uri = put(execution)
    response = as_role(Role.VIEWER).get(f"{WD}/executions/{execution.pk}/file", {"path": uri})
    assert b"".join(response.streaming_content) == b"the report"
    assert as_role(Role.VIEWER).get(f"{WD}/executions/{execution.pk}/file/metas", {"path": uri}).json() == {"size": 10}


def test_anonymous_callers_are_401(client_for, execution):
    response = client_for(None).get(f"{WD}/executions/{execution.pk}/file", {"path": put(execution)})
    assert_error(response, 401, "unauthorized")


def test_a_file_of_another_execution_is_not_found_through_this_one(api, execution, namespace):
    sibling = ExecutionFactory(flow=FlowFactory(namespace=namespace))
    uri = put(sibling)
    for suffix in ("file", "file/metas"):
        error = assert_error(api.get(f"{WD}/executions/{execution.pk}/{suffix}", {"path": uri}), 404, "not_found")
        assert error["message"] == "File not found."


def test_another_namespaces_execution_answers_like_a_missing_one(api, other_namespace):
    theirs = ExecutionFactory(flow=FlowFactory(namespace=other_namespace))
    uri = put(theirs)
    for execution_id in (theirs.pk, "00000000-0000-0000-0000-000000000000", "not-an-id"):
        for suffix in ("file", "file/metas"):
            response = api.get(f"{WD}/executions/{execution_id}/{suffix}", {"path": uri})
            assert assert_error(response, 404, "not_found")["message"] == "Execution not found."


def test_a_uri_naming_another_namespace_is_not_found(api, execution):
    NamespaceFactory(name="elsewhere")
    forged = f"millrace:///elsewhere/executions/{execution.pk}/outputs/report.txt"
    put(execution)
    assert_error(api.get(f"{WD}/executions/{execution.pk}/file", {"path": forged}), 404, "not_found")


def test_a_missing_file_of_the_execution_is_404(api, execution):
    uri = f"millrace:///production/executions/{execution.pk}/outputs/none.txt"
    assert_error(api.get(f"{WD}/executions/{execution.pk}/file", {"path": uri}), 404, "not_found")
    assert_error(api.get(f"{WD}/executions/{execution.pk}/file/metas", {"path": uri}), 404, "not_found")


@pytest.mark.parametrize(
    "path",
    [
        "",
        "outputs/report.txt",
        "https://example.com/report.txt",
        "millrace:///production/executions/{id}/../{id}/outputs/report.txt",
        "millrace:///production/executions/{id}/a\\b",
        "millrace:///production/executions/{id}/" + "x" * 256,
    ],
    ids=["empty", "relative", "http", "dotdot", "backslash", "long-name"],
)
def test_a_malformed_uri_is_400(api, execution, path):
    put(execution)
    path = path.format(id=execution.pk)
    for suffix in ("file", "file/metas"):
        error = assert_error(
            api.get(f"{WD}/executions/{execution.pk}/{suffix}", {"path": path}), 400, "invalid_request"
        )
        assert error["details"]["field"] == "path"
