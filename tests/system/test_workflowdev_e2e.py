"""workflowdev end to end: a real uvicorn server and real workers on PostgreSQL + Redis.

The issue's acceptance test: create a flow with an approval gate through the camelCase API,
execute it, follow the log WebSocket, approve, see SUCCESS. Everything goes over real HTTP
and a real WebSocket under `/workflowdev/` (FlowRunner owns `/api/v1/flows` at the root).
"""

import json
import time
from collections.abc import Callable

import pytest
import requests
from django.conf import global_settings
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from accounts.roles import Role
from tests.factories import PASSWORD, AccountFactory

pytestmark = pytest.mark.services

WD = "/workflowdev"
FLOW_YAML = """name: gated-release
tasks:
  - name: hello
    type: util.log
    properties:
      message: "Preparing the release"
  - name: approve
    type: flow.pause
    properties:
      message: "Ship the release?"
  - name: finish
    type: util.log
    properties:
      message: "Release shipped"
"""
LINE_FIELDS = {"timestamp", "level", "message", "taskName", "taskType", "executionId"}


def read_until(stream: ClientConnection, lines: list[dict], done: Callable[[dict], bool], timeout: float) -> None:
    """Append lines to `lines` until one satisfies `done`; fail on timeout or on a closed stream."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no matching line within {timeout}s; got {lines}")
        try:
            line = json.loads(stream.recv(timeout=remaining))
        except TimeoutError:
            raise AssertionError(f"no matching line within {timeout}s; got {lines}") from None
        except ConnectionClosed as closed:
            raise AssertionError(f"the stream closed early ({closed}); got {lines}") from None
        lines.append(line)
        if done(line):
            return


def read_to_close(stream: ClientConnection, lines: list[dict], timeout: float) -> int | None:
    """Append lines until the server closes the stream; the close code it sent."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"the stream did not close within {timeout}s; got {lines}")
        try:
            lines.append(json.loads(stream.recv(timeout=remaining)))
        except TimeoutError:
            raise AssertionError(f"the stream did not close within {timeout}s; got {lines}") from None
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None


@pytest.mark.parametrize(
    "hold",
    [
        pytest.param(0, id="approved-at-once"),
        pytest.param(8, id="approved-after-8s"),  # the stream stays open while nothing happens
    ],
)
def test_gate_flow_execute_follow_logs_approve_success(workers, server, namespace, settings, hold):
    """`hold`: seconds the gate waits for its approver while the log stream is open and idle."""
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS  # the server checks with the real hashers
    admin = AccountFactory(username="wd-e2e", role=Role.ADMIN, default_namespace=namespace)
    workers.start()

    login = requests.post(
        f"{server}{WD}/auth/login", json={"username": admin.username, "password": PASSWORD}, timeout=10
    )
    assert login.status_code == 200, login.text
    token = login.json()["token"]
    auth = {"Authorization": f"Bearer {token}"}

    created = requests.post(
        f"{server}{WD}/api/v1/flows",
        json={"name": "gated-release", "namespace": namespace.name, "yamlContent": FLOW_YAML},
        headers=auth,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    flow = created.json()
    assert (flow["name"], flow["namespace"], flow["yamlContent"]) == ("gated-release", namespace.name, FLOW_YAML)
    flow_id = flow["id"]

    executed = requests.post(f"{server}{WD}/api/v1/flows/{flow_id}/execute", headers=auth, timeout=10)
    assert executed.status_code == 201, executed.text
    answer = executed.json()
    execution_id = answer["executionId"]
    assert answer == {"executionId": execution_id, "status": "QUEUED", "tasksTotal": 3}

    ws_url = f"{server.replace('http://', 'ws://')}{WD}/api/v1/executions/{execution_id}/logs?token={token}"
    lines: list[dict] = []
    with connect(ws_url, open_timeout=10, close_timeout=5) as stream:
        read_until(
            stream,
            lines,
            lambda line: line["taskName"] == "approve" and line["message"] == "Step 'approve' waits for approval",
            timeout=30,
        )
        assert all(set(line) == LINE_FIELDS for line in lines), lines
        assert all(line["executionId"] == execution_id for line in lines), lines
        gate_line = lines[-1]
        assert gate_line["taskType"] == "flow.pause" and gate_line["timestamp"].endswith("Z"), gate_line
        first = [line for line in lines if line["message"] == "Preparing the release"]
        assert [(line["taskName"], line["taskType"], line["level"]) for line in first] == [
            ("hello", "util.log", "INFO")
        ], lines
        assert not any(line["message"] == "Release shipped" for line in lines), lines

        waiting = requests.get(f"{server}{WD}/api/v1/executions/{execution_id}", headers=auth, timeout=10)
        assert waiting.status_code == 200, waiting.text
        assert waiting.json()["execution"]["status"] == "WAITING", waiting.json()
        tasks = {task["taskName"]: task for task in waiting.json()["tasks"]}
        assert "finish" not in tasks, tasks
        assert tasks["hello"]["status"] == "SUCCESS" and tasks["hello"]["approvalId"] is None, tasks
        gate = tasks["approve"]
        assert (gate["taskType"], gate["status"]) == ("flow.pause", "WAITING"), gate
        approval_id = gate["approvalId"]
        assert approval_id, gate
        time.sleep(hold)

        approved = requests.post(
            f"{server}{WD}/api/v1/approvals/{approval_id}/approve",
            json={"comment": "ship it"},
            headers=auth,
            timeout=10,
        )
        assert approved.status_code == 200, approved.text
        decision = approved.json()
        assert (decision["id"], decision["executionId"], decision["taskName"]) == (
            approval_id,
            execution_id,
            "approve",
        ), decision
        assert (decision["status"], decision["decidedBy"], decision["comment"]) == (
            "approved",
            admin.username,
            "ship it",
        ), decision

        code = read_to_close(stream, lines, timeout=30)

    assert code == 1000, (code, lines)
    finals = [line for line in lines if line["message"] == "Release shipped"]
    assert [(line["taskName"], line["taskType"], line["level"]) for line in finals] == [
        ("finish", "util.log", "INFO")
    ], lines
    assert any(line["message"] == f"Approved by {admin.username}" for line in lines), lines
    assert lines.index(gate_line) < lines.index(finals[0]), lines

    final = requests.get(f"{server}{WD}/api/v1/executions/{execution_id}", headers=auth, timeout=10)
    assert final.status_code == 200, final.text
    execution, tasks = final.json()["execution"], final.json()["tasks"]
    assert (execution["id"], execution["flowId"], execution["status"]) == (execution_id, flow_id, "SUCCESS")
    assert [(task["taskName"], task["taskType"], task["status"]) for task in tasks] == [
        ("hello", "util.log", "SUCCESS"),
        ("approve", "flow.pause", "SUCCESS"),
        ("finish", "util.log", "SUCCESS"),
    ], tasks
    assert execution["tasksTotal"] == 3 and execution["tasksExecuted"] == len(tasks), execution
    assert json.loads(tasks[2]["outputs"]) == {"message": "Release shipped"}, tasks[2]
    assert json.loads(tasks[1]["outputs"]) == {"approved": True, "decidedBy": admin.username, "comment": "ship it"}
