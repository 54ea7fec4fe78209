"""Execute, executions (list, get with tasks), cancel and retry."""

import json

import pytest
from rest_framework.test import APIClient

from accounts.roles import Role
from executions.models import Execution
from tests.api.workflowdev.conftest import WD, assert_error
from tests.factories import ExecutionFactory, FlowFactory

THREE = """name: three
inputs:
  - id: who
    type: STRING
    required: true
  - id: times
    type: INT
    defaults: 1
tasks:
  - name: fetch
    type: util.echo
    properties:
      value: {status_code: 200, body: {who: "{{ inputs.who }}"}}
  - name: greet
    type: util.log
    properties:
      message: "Hello {{ inputs.who }}"
  - name: done
    type: util.echo
    properties:
      value: "{{ inputs.times }}"
"""
FAILING = "name: failing\ntasks:\n  - name: boom\n    type: flow.fail\n    properties: {message: nope}\n"
EXECUTION_FIELDS = {
    "id",
    "flowId",
    "namespace",
    "status",
    "tasksTotal",
    "tasksExecuted",
    "inputs",
    "labels",
    "outputs",
    "error",
    "startedAt",
    "finishedAt",
    "durationMs",
    "originalId",
}
TASK_FIELDS = {
    "id",
    "taskName",
    "taskType",
    "status",
    "attempt",
    "outputs",
    "error",
    "approvalId",
    "startedAt",
    "finishedAt",
}


@pytest.mark.django_db
def test_execute_answers_queued_with_the_task_count(api, create_flow):
    flow = create_flow(THREE)
    response = api.post(f"{WD}/flows/{flow['id']}/execute", {"who": "ada"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"executionId", "status", "tasksTotal"}
    assert body["status"] == "QUEUED" and body["tasksTotal"] == 3
    assert Execution.objects.get(pk=body["executionId"]).inputs == {"who": "ada", "times": 1}


@pytest.mark.django_db
def test_execute_checks_inputs_and_roles(api, create_flow, as_role):
    flow = create_flow(THREE)
    error = assert_error(api.post(f"{WD}/flows/{flow['id']}/execute"), 422, "validation_error")
    assert error["details"]["field"] == "inputs.who"
    bad = api.post(f"{WD}/flows/{flow['id']}/execute", {"who": "a", "times": "many"}, format="json")
    assert_error(bad, 422, "validation_error")
    assert_error(api.post(f"{WD}/flows/{flow['id']}/execute", [1], format="json"), 422, "validation_error")
    viewer = as_role(Role.VIEWER)
    assert_error(viewer.post(f"{WD}/flows/{flow['id']}/execute", {"who": "a"}, format="json"), 403, "forbidden")
    executor = as_role(Role.EXECUTOR)
    assert executor.post(f"{WD}/flows/{flow['id']}/execute", {"who": "a"}, format="json").status_code == 201


def test_get_execution_matches_the_seed(eager, api, create_flow):
    flow = create_flow(THREE)
    started = api.post(f"{WD}/flows/{flow['id']}/execute", {"who": "ada"}, format="json").json()
    response = api.get(f"{WD}/executions/{started['executionId']}")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"execution", "tasks"}
    execution = body["execution"]
    assert set(execution) == EXECUTION_FIELDS
    assert execution["id"] == started["executionId"] and execution["flowId"] == flow["id"]
    assert execution["status"] == "SUCCESS" and execution["namespace"] == "production"
    assert execution["tasksTotal"] == 3 and execution["tasksExecuted"] == 3
    assert execution["inputs"] == {"who": "ada", "times": 1} and execution["error"] is None
    assert execution["startedAt"].endswith("Z") and execution["finishedAt"].endswith("Z")
    assert isinstance(execution["durationMs"], int) and execution["durationMs"] >= 0
    tasks = body["tasks"]
    assert [t["taskName"] for t in tasks] == ["fetch", "greet", "done"]
    fetch = tasks[0]
    assert set(fetch) == TASK_FIELDS
    assert fetch["taskType"] == "util.echo" and fetch["status"] == "SUCCESS" and fetch["attempt"] == 1
    assert isinstance(fetch["outputs"], str)
    assert json.loads(fetch["outputs"]) == {"status_code": 200, "body": {"who": "ada"}}
    assert fetch["approvalId"] is None and fetch["error"] is None


def test_list_filters(eager, api, create_flow, other_namespace):
    one = create_flow(THREE)
    two = create_flow(FAILING)
    api.post(f"{WD}/flows/{one['id']}/execute", {"who": "a"}, format="json")
    api.post(f"{WD}/flows/{two['id']}/execute")
    ExecutionFactory(flow=FlowFactory(namespace=other_namespace))
    everything = api.get(f"{WD}/executions")
    assert everything.status_code == 200 and everything["X-Total-Count"] == "2"
    assert [e["status"] for e in api.get(f"{WD}/executions?status=FAILED").json()] == ["FAILED"]
    assert len(api.get(f"{WD}/executions?status=FAILED,SUCCESS").json()) == 2
    assert [e["flowId"] for e in api.get(f"{WD}/executions?flowId={one['id']}").json()] == [one["id"]]
    assert api.get(f"{WD}/executions?namespace=production&limit=1")["X-Total-Count"] == "2"
    assert len(api.get(f"{WD}/executions?limit=1&offset=1").json()) == 1
    assert_error(api.get(f"{WD}/executions?status=DONE"), 400, "invalid_request")
    assert_error(APIClient().get(f"{WD}/executions"), 401, "unauthorized")


def test_cancel_and_retry(eager, api, create_flow, as_role):
    failing = create_flow(FAILING)
    run = api.post(f"{WD}/flows/{failing['id']}/execute").json()["executionId"]
    detail = api.get(f"{WD}/executions/{run}").json()
    assert detail["execution"]["status"] == "FAILED" and detail["tasks"][0]["error"]
    assert_error(api.post(f"{WD}/executions/{run}/cancel"), 409, "conflict")
    assert_error(as_role(Role.VIEWER).post(f"{WD}/executions/{run}/retry"), 403, "forbidden")
    retried = api.post(f"{WD}/executions/{run}/retry")
    assert retried.status_code == 200 and set(retried.json()) == {"execution", "tasks"}
    assert Execution.objects.get(pk=run).attempt == 2
    ok = create_flow(THREE)
    done = api.post(f"{WD}/flows/{ok['id']}/execute", {"who": "a"}, format="json").json()["executionId"]
    assert_error(api.post(f"{WD}/executions/{done}/retry"), 409, "conflict")


@pytest.mark.django_db
def test_cancel_a_queued_execution(api, create_flow, other_namespace):
    flow = create_flow(THREE)
    run = api.post(f"{WD}/flows/{flow['id']}/execute", {"who": "a"}, format="json").json()["executionId"]
    cancelled = api.post(f"{WD}/executions/{run}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["execution"]["status"] == "CANCELLED"
    theirs = ExecutionFactory(flow=FlowFactory(namespace=other_namespace))
    assert_error(api.get(f"{WD}/executions/{theirs.pk}"), 404, "not_found")
    assert_error(api.post(f"{WD}/executions/{theirs.pk}/cancel"), 404, "not_found")
