"""POST /executions/{id}/replay?taskRunId=…[&revision=N]: Kestra's replay through workflowdev."""

import pytest

from accounts.roles import Role
from executions.models import Execution, ExecutionStatus, TaskRun
from tests.api.workflowdev.conftest import WD, assert_error
from tests.factories import ExecutionFactory, FlowFactory, TaskRunFactory

CHAIN = """name: chain
tasks:
  - name: a
    type: util.echo
    properties: {value: "{{ execution.id }}"}
  - name: b
    type: util.echo
    properties: {value: "b1"}
"""
GATE = "name: gate\ntasks:\n  - name: ask\n    type: flow.pause\n"


@pytest.fixture
def ended(eager, api, create_flow) -> dict:
    flow = create_flow(CHAIN)
    started = api.post(f"{WD}/flows/{flow['id']}/execute").json()
    body = api.get(f"{WD}/executions/{started['executionId']}").json()
    assert body["execution"]["status"] == "SUCCESS"
    return {"flow": flow, **body}


def task_id(body: dict, name: str) -> str:
    return next(task["id"] for task in body["tasks"] if task["taskName"] == name)


def replay_url(body: dict, task: str, extra: str = "") -> str:
    return f"{WD}/executions/{body['execution']['id']}/replay?taskRunId={task}{extra}"


def test_replay_answers_201_with_the_new_execution_linked_to_the_original(ended, as_role):
    executor = as_role(Role.EXECUTOR)

    response = executor.post(replay_url(ended, task_id(ended, "b")))

    assert response.status_code == 201
    assert set(response.json()) == {"executionId"}
    again = executor.get(f"{WD}/executions/{response.json()['executionId']}").json()
    assert again["execution"]["originalId"] == ended["execution"]["id"]
    assert again["execution"]["status"] == "SUCCESS"
    outputs = {task["taskName"]: task["outputs"] for task in again["tasks"]}
    assert outputs["a"] == f'"{ended["execution"]["id"]}"'  # kept from the original
    assert ended["execution"]["originalId"] is None


def test_replay_on_a_named_revision(ended, api):
    flow = ended["flow"]
    api.put(f"{WD}/flows/{flow['id']}", {"yamlContent": CHAIN.replace("b1", "b2")}, format="json")

    response = api.post(replay_url(ended, task_id(ended, "b"), "&revision=2"))

    replayed = Execution.objects.get(pk=response.json()["executionId"])
    assert response.status_code == 201
    assert replayed.flow_revision == 2
    assert TaskRun.objects.get(execution=replayed, name="b").outputs == "b2"


def test_bad_replays_in_the_dialect_shape(ended, api, as_role, create_flow, other_namespace):
    elsewhere = ExecutionFactory(flow=FlowFactory(namespace=other_namespace), status=ExecutionStatus.SUCCESS)
    foreign_run = TaskRunFactory(execution=elsewhere)
    waiting_flow = create_flow(GATE)
    waiting = api.post(f"{WD}/flows/{waiting_flow['id']}/execute").json()
    waiting_body = api.get(f"{WD}/executions/{waiting['executionId']}").json()

    assert (
        "taskRunId"
        in assert_error(api.post(f"{WD}/executions/{ended['execution']['id']}/replay"), 400, "invalid_request")[
            "message"
        ]
    )
    assert_error(api.post(replay_url(ended, str(foreign_run.pk))), 404, "not_found")
    assert_error(api.post(replay_url(ended, "nonsense")), 404, "not_found")
    assert_error(api.post(f"{WD}/executions/{elsewhere.pk}/replay?taskRunId={foreign_run.pk}"), 404, "not_found")
    assert_error(api.post(replay_url(ended, task_id(ended, "b"), "&revision=9")), 404, "not_found")
    assert_error(api.post(replay_url(ended, task_id(ended, "b"), "&revision=two")), 400, "invalid_request")
    assert_error(api.post(replay_url(waiting_body, task_id(waiting_body, "ask"))), 409, "conflict")
    assert_error(as_role(Role.VIEWER).post(replay_url(ended, task_id(ended, "b"))), 403, "forbidden")
    assert not Execution.objects.filter(original__isnull=False).exists()
