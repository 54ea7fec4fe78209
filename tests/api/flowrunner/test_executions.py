"""FlowRunner executions: list/get shapes, status words, cancel, logs, roles and isolation."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.roles import Role
from executions.engine.events import event_append
from executions.models import ExecutionStatus
from tests.api.flowrunner.test_auth import assert_flowrunner_error

pytestmark = pytest.mark.django_db

E = ExecutionStatus
SUMMARY_FIELDS = {"id", "flow_id", "status", "started_at", "completed_at", "duration", "error"}
DETAIL_FIELDS = {
    "id",
    "flow_id",
    "status",
    "input",
    "result",
    "started_at",
    "completed_at",
    "duration",
    "error",
    "labels",
}


def finished(make_execution, status: str, seconds: float = 5, **kwargs):
    started = timezone.now() - timedelta(seconds=10)
    return make_execution(status=status, started_at=started, finished_at=started + timedelta(seconds=seconds), **kwargs)


def test_list_shape_matches_the_seed(make_account, client_for, make_execution):
    done = finished(make_execution, E.SUCCESS, outputs={"output": "value"})
    failed = finished(make_execution, E.FAILED, seconds=2, error="HTTP request failed with status 500")
    response = client_for(make_account()).get("/api/v1/executions")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"executions", "total", "limit", "offset"}
    assert (body["total"], body["limit"], body["offset"]) == (2, 10, 0)
    by_id = {item["id"]: item for item in body["executions"]}
    assert all(set(item) == SUMMARY_FIELDS for item in body["executions"])
    assert by_id[str(done.id)]["status"] == "completed" and by_id[str(done.id)]["duration"] == 5000
    assert by_id[str(done.id)]["error"] is None
    assert by_id[str(failed.id)]["status"] == "failed" and by_id[str(failed.id)]["duration"] == 2000
    assert by_id[str(failed.id)]["error"] == "HTTP request failed with status 500"
    assert by_id[str(done.id)]["flow_id"] == str(done.flow_id)
    assert by_id[str(done.id)]["completed_at"].endswith("Z")


def test_status_words_and_flow_filter(make_account, client_for, make_execution, make_flow):
    flow = make_flow("Filtered")
    statuses = [E.QUEUED, E.RUNNING, E.WAITING, E.PAUSED, E.SUCCESS, E.FAILED, E.TIMED_OUT, E.CANCELLED]
    for status in statuses:
        make_execution(status=status, flow=flow if status in (E.QUEUED, E.SUCCESS) else None)
    client = client_for(make_account())

    def total(query: str) -> int:
        response = client.get(f"/api/v1/executions?{query}")
        assert response.status_code == 200, response.content
        return response.json()["total"]

    assert total("status=running") == 3
    assert total("status=paused") == 1
    assert total("status=completed") == 1
    assert total("status=failed") == 2
    assert total("status=cancelled") == 1
    assert total(f"flow_id={flow.id}") == 2
    assert total(f"flow_id={flow.id}&status=running") == 1
    words = {item["status"] for item in client.get("/api/v1/executions?limit=100").json()["executions"]}
    assert words == {"running", "paused", "completed", "failed", "cancelled"}
    assert_flowrunner_error(client.get("/api/v1/executions?status=SUCCESS"), 400, "invalid_request")
    assert_flowrunner_error(client.get("/api/v1/executions?flow_id=nope"), 400, "invalid_request")
    page = client.get("/api/v1/executions?limit=3&offset=6").json()
    assert (page["total"], page["limit"], page["offset"], len(page["executions"])) == (8, 3, 6, 2)
    assert_flowrunner_error(client.get("/api/v1/executions?limit=0"), 400, "invalid_request")


def test_get_shape_matches_the_seed(make_account, client_for, make_execution):
    execution = finished(make_execution, E.SUCCESS, inputs={"key": "value"}, outputs={"output": "value"})
    response = client_for(make_account()).get(f"/api/v1/executions/{execution.id}")
    assert response.status_code == 200
    body = response.json()
    assert list(body) == [
        "id",
        "flow_id",
        "status",
        "input",
        "result",
        "started_at",
        "completed_at",
        "duration",
        "error",
        "labels",
    ]
    assert body["input"] == {"key": "value"} and body["result"] == {"output": "value"}
    assert (body["status"], body["duration"], body["error"]) == ("completed", 5000, None)


def test_timed_out_reads_as_failed_and_says_so(make_account, client_for, make_execution):
    execution = finished(make_execution, E.TIMED_OUT, error="")
    body = client_for(make_account()).get(f"/api/v1/executions/{execution.id}").json()
    assert body["status"] == "failed" and "timed out" in body["error"]


def test_a_queued_execution_has_no_times_yet(make_account, client_for, make_execution):
    execution = make_execution(status=E.QUEUED)
    body = client_for(make_account()).get(f"/api/v1/executions/{execution.id}").json()
    assert (body["status"], body["started_at"], body["completed_at"], body["duration"]) == ("running", None, None, None)


def test_unknown_and_foreign_executions_are_404(make_account, client_for, make_execution, make_flow, other_namespace):
    foreign = make_execution(flow=make_flow("Foreign", ns=other_namespace), status=E.RUNNING)
    client = client_for(make_account(Role.EDITOR))
    for path in (f"/api/v1/executions/{foreign.id}", "/api/v1/executions/nope"):
        assert_flowrunner_error(client.get(path), 404, "not_found")
        assert_flowrunner_error(client.delete(path), 404, "not_found")
        assert_flowrunner_error(client.get(f"{path}/logs"), 404, "not_found")
    assert client.get("/api/v1/executions").json()["total"] == 0
    foreign.refresh_from_db()
    assert foreign.status == E.RUNNING


def test_without_a_token_is_401(client_for, make_execution):
    execution = make_execution()
    client = client_for(None)
    for response in (
        client.get("/api/v1/executions"),
        client.get(f"/api/v1/executions/{execution.id}"),
        client.delete(f"/api/v1/executions/{execution.id}"),
        client.get(f"/api/v1/executions/{execution.id}/logs"),
    ):
        assert_flowrunner_error(response, 401, "unauthorized")


@pytest.mark.parametrize("role", [Role.EXECUTOR, Role.EDITOR, Role.ADMIN])
def test_cancel_answers_the_seed_message(make_account, client_for, make_execution, role):
    execution = make_execution(status=E.RUNNING)
    response = client_for(make_account(role)).delete(f"/api/v1/executions/{execution.id}")
    assert response.status_code == 200
    assert response.json() == {"message": "Execution cancelled successfully"}
    execution.refresh_from_db()
    assert execution.status == E.CANCELLED


def test_cancel_refusals(make_account, client_for, make_execution):
    running = make_execution(status=E.RUNNING)
    assert_flowrunner_error(
        client_for(make_account(Role.VIEWER)).delete(f"/api/v1/executions/{running.id}"), 403, "forbidden"
    )
    done = finished(make_execution, E.SUCCESS)
    executor = client_for(make_account(Role.EXECUTOR))
    assert_flowrunner_error(executor.delete(f"/api/v1/executions/{done.id}"), 409, "conflict")
    assert executor.delete(f"/api/v1/executions/{running.id}").status_code == 200
    assert_flowrunner_error(executor.delete(f"/api/v1/executions/{running.id}"), 409, "conflict")


def test_logs_shape_level_minimum_and_pagination(make_account, client_for, make_execution):
    execution = make_execution(status=E.RUNNING)
    for level in ("debug", "info", "warn", "error"):
        event_append(execution_id=execution.id, type="log", level=level, message=f"a {level} line", data={"n": 1})
    client = client_for(make_account())
    body = client.get(f"/api/v1/executions/{execution.id}/logs").json()
    assert set(body) == {"logs", "total", "limit", "offset"}
    assert body["total"] == 4
    entry = body["logs"][0]
    assert set(entry) == {"timestamp", "level", "message", "node_id", "node_type", "data"}
    assert (entry["level"], entry["message"], entry["data"], entry["node_id"]) == (
        "debug",
        "a debug line",
        {"n": 1},
        None,
    )
    warn = client.get(f"/api/v1/executions/{execution.id}/logs?level=warn").json()
    assert [e["level"] for e in warn["logs"]] == ["warn", "error"] and warn["total"] == 2
    assert client.get(f"/api/v1/executions/{execution.id}/logs?level=warning").json()["total"] == 2
    page = client.get(f"/api/v1/executions/{execution.id}/logs?limit=1&offset=2").json()
    assert (page["total"], page["limit"], page["offset"], page["logs"][0]["level"]) == (4, 1, 2, "warn")
    assert_flowrunner_error(client.get(f"/api/v1/executions/{execution.id}/logs?level=loud"), 400, "invalid_request")


@pytest.fixture
def eager(settings, transactional_db) -> None:
    settings.MILLRACE_ENGINE_EAGER = True


def test_a_real_run_through_the_api(eager, make_account, client_for, make_flow):
    account = make_account(Role.EXECUTOR)
    flow = make_flow(owner=account)
    client = client_for(account)
    run = client.post(f"/api/v1/flows/{flow.id}/run", {"input": {"key": "value", "who": "Ada"}}, format="json")
    assert run.status_code == 201
    execution_id = run.json()["execution_id"]
    body = client.get(f"/api/v1/executions/{execution_id}").json()
    assert body["status"] == "completed" and body["result"] == {"output": "value"}
    assert body["input"] == {"key": "value", "who": "Ada"} and isinstance(body["duration"], int)
    logs = client.get(f"/api/v1/executions/{execution_id}/logs?limit=100").json()["logs"]
    said = [entry for entry in logs if entry["message"] == "Hello Ada"]
    assert said and said[0]["node_id"] == "start" and said[0]["node_type"] == "util.log"
    assert logs[-1]["message"] == "Execution completed" and logs[-1]["data"] == {"status": "completed"}
    node_done = [entry for entry in logs if entry["node_id"] == "end" and entry["data"]["status"] == "completed"]
    assert node_done and node_done[0]["data"]["outputs"] == {"output": "value"}
    listed = client.get(f"/api/v1/executions?flow_id={flow.id}&status=completed").json()
    assert [item["id"] for item in listed["executions"]] == [execution_id]
    assert_flowrunner_error(client.delete(f"/api/v1/executions/{execution_id}"), 409, "conflict")
