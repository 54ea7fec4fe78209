"""Execution WebSockets through the real ASGI router: FlowRunner's message sequence (live and
replayed), `?since=`, refusals, and workflowdev's log stream."""

from typing import Any
from unittest import mock

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework_simplejwt.tokens import SlidingToken

from accounts.auth import auth_logout
from accounts.models import Account
from accounts.roles import Role
from accounts.services import api_token_create
from api.flowrunner.consumers import FlowRunnerExecutionConsumer
from api.workflowdev.consumers import WorkflowdevLogConsumer
from config.asgi import application
from executions.consumers import read_events
from executions.engine import runner
from executions.models import Execution, ExecutionEvent
from executions.services import execution_cancel, execution_create, execution_start
from flows.models import Flow
from tests.conftest import token_for
from tests.factories import AccountFactory, FlowFactory, NamespaceFactory
from tests.sockets import in_loop, read_all, stream

pytestmark = pytest.mark.django_db(transaction=True)

GOOD = """metadata:
  name: good
  version: "1.0.0"
nodes:
  start:
    type: util.log
    params:
      message: "Hello {{ inputs.name }}"
    next: end
  end:
    type: util.echo
    params:
      value: {"output": "{{ inputs.name }}"}
"""
BAD = """metadata:
  name: bad
nodes:
  start:
    type: data.json.parse
    params:
      text: "not json"
"""
SLOW = """metadata:
  name: slow
nodes:
  start:
    type: util.sleep
    params:
      seconds: 3600
"""


@pytest.fixture
def account(namespace) -> Account:
    return AccountFactory(role=Role.EXECUTOR, default_namespace=namespace)


@pytest.fixture
def flow_of(namespace, account):
    def make(source: str) -> Flow:
        return FlowFactory(namespace=namespace, source=source, format=Flow.Format.NODES, created_by=account)

    return make


def live(path: str, act, before: int = 1) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int | None]:
    """Connect, read `before` messages, run `act` (sync, in the DB thread), read to the close."""

    async def run():
        comm = WebsocketCommunicator(application, path)
        assert (await comm.connect(timeout=5))[0]
        first = [await comm.receive_json_from(5) for _ in range(before)]
        await database_sync_to_async(act)()
        rest, code = await read_all(comm)
        return first, rest, code

    return in_loop(run)


def types(messages: list[dict[str, Any]]) -> list[str]:
    return [message["type"] for message in messages]


def test_a_successful_run_streams_the_seed_sequence(flow_of, account, settings):
    execution = execution_create(flow=flow_of(GOOD), inputs={"name": "Ada"}, created_by=account)

    def run_engine() -> None:
        settings.MILLRACE_ENGINE_EAGER = True
        runner.start_execution(str(execution.pk))

    first, rest, code = live(f"/ws/executions/{execution.pk}?token={token_for(account)}", run_engine)
    messages = first + rest
    assert code == 1000
    assert types(messages) == [
        "execution_update",  # queued
        "execution_update",  # started
        "execution_update",  # node start running
        "log",
        "node_completed",
        "execution_update",
        "node_completed",
        "execution_completed",
    ]
    eid = str(execution.pk)
    assert messages[0] == {
        "type": "execution_update",
        "execution_id": eid,
        "status": "running",
        "node_id": None,
        "node_type": None,
        "timestamp": messages[0]["timestamp"],
    }
    update = messages[2]
    assert set(update) == {"type", "execution_id", "status", "node_id", "node_type", "timestamp"}
    assert (update["status"], update["node_id"], update["node_type"]) == ("running", "start", "util.log")
    log = messages[3]
    assert set(log) == {"type", "execution_id", "level", "message", "node_id", "node_type", "data", "timestamp"}
    assert (log["level"], log["message"], log["node_id"]) == ("info", "Hello Ada", "start")
    node = messages[6]
    assert set(node) == {"type", "execution_id", "node_id", "node_type", "result", "timestamp"}
    assert (node["node_id"], node["node_type"], node["result"]) == ("end", "util.echo", {"output": "Ada"})
    assert messages[-1] == {
        "type": "execution_completed",
        "execution_id": eid,
        "status": "completed",
        "result": {"output": "Ada"},
        "timestamp": messages[-1]["timestamp"],
    }
    assert messages[-1]["timestamp"].endswith("Z")


def test_a_failed_run_ends_with_execution_failed(flow_of, account, settings):
    execution = execution_create(flow=flow_of(BAD), inputs={}, created_by=account)

    def run_engine() -> None:
        settings.MILLRACE_ENGINE_EAGER = True
        runner.start_execution(str(execution.pk))

    first, rest, code = live(f"/flowrunner/ws/executions/{execution.pk}?token={token_for(account)}", run_engine)
    messages = first + rest
    assert types(messages) == ["execution_update", "execution_update", "execution_update", "log", "execution_failed"]
    assert messages[3]["level"] == "error" and messages[3]["data"]["status"] == "failed"
    failed = messages[-1]
    assert set(failed) == {"type", "execution_id", "status", "error", "node_id", "node_type", "timestamp"}
    assert (failed["status"], failed["node_id"], failed["node_type"]) == ("failed", "start", "data.json.parse")
    assert "Invalid JSON" in failed["error"]
    assert code == 1000


def test_a_cancelled_run_ends_with_execution_failed_cancelled(flow_of, account, settings):
    settings.MILLRACE_ENGINE_EAGER = True
    execution = execution_start(actor=account, flow=flow_of(SLOW), inputs={})
    path = f"/ws/executions/{execution.pk}?token={token_for(account)}"
    first, rest, code = live(path, lambda: execution_cancel(actor=account, execution=execution), before=5)
    assert types(first) == ["execution_update", "execution_update", "execution_update", "log", "execution_update"]
    assert first[3]["message"] == "Step 'start' waits" and first[3]["data"]["status"] == "waiting"
    assert first[4]["status"] == "running" and first[4]["node_id"] is None  # WAITING reads as running
    assert types(rest) == ["log", "execution_failed"], rest
    assert rest[0]["data"]["status"] == "cancelled" and rest[0]["node_id"] == "start"
    assert rest[-1]["status"] == "cancelled" and account.username in rest[-1]["error"]
    assert rest[-1]["node_id"] is None
    assert code == 1000


def test_late_join_replays_everything_and_closes(flow_of, account, settings):
    settings.MILLRACE_ENGINE_EAGER = True
    execution = execution_start(actor=account, flow=flow_of(GOOD), inputs={"name": "Bo"})
    messages, code = stream(
        f"/ws/executions/{execution.pk}", headers=[(b"authorization", f"Bearer {token_for(account)}".encode())]
    )
    assert code == 1000
    assert types(messages)[-1] == "execution_completed" and len(messages) == 8
    assert messages[-1]["result"] == {"output": "Bo"}


def test_a_late_join_reads_the_execution_once_for_its_handshake_and_first_read(flow_of, account, settings):
    settings.MILLRACE_ENGINE_EAGER = True
    execution = execution_start(actor=account, flow=flow_of(GOOD), inputs={"name": "Di"})
    with CaptureQueriesContext(connection) as queries:
        messages, code = stream(f"/ws/executions/{execution.pk}?token={token_for(account)}")
    assert code == 1000 and len(messages) == 8
    reads = [query["sql"] for query in queries if 'FROM "executions_execution" ' in query["sql"]]
    assert len(reads) == 1, reads


@pytest.mark.parametrize("consumer", [FlowRunnerExecutionConsumer, WorkflowdevLogConsumer])
def test_a_stream_read_leaves_unshown_fields_and_loads_nothing_per_event(flow_of, account, settings, consumer):
    settings.MILLRACE_ENGINE_EAGER = True
    execution = execution_start(actor=account, flow=flow_of(GOOD), inputs={"name": "Ed"})
    stream_of = consumer()
    stream_of.options = {}
    with CaptureQueriesContext(connection) as queries:
        found, events, done, _ = read_events(execution.pk, 0)
        messages = stream_of.translate(events, found)
    assert done and len(events) == len(messages) == 8
    assert len(queries) <= 3  # the execution, its events, whether the end is final (FlowRunner)
    assert {"source", "inputs", "namespace_id"} <= found.get_deferred_fields()
    assert all({"inputs", "state"} <= event.task_run.get_deferred_fields() for event in events if event.task_run)


def test_since_resumes_after_an_event(flow_of, account, settings):
    settings.MILLRACE_ENGINE_EAGER = True
    execution = execution_start(actor=account, flow=flow_of(GOOD), inputs={"name": "Cy"})
    ids = list(ExecutionEvent.objects.filter(execution=execution).values_list("id", flat=True))
    token = token_for(account)
    messages, _ = stream(f"/ws/executions/{execution.pk}?token={token}&since={ids[4]}&event_ids=true")
    assert types(messages) == ["execution_update", "node_completed", "execution_completed"]
    assert [m["event_id"] for m in messages] == ids[5:]
    nothing, code = stream(f"/ws/executions/{execution.pk}?token={token}&since={ids[-1]}")
    assert nothing == [] and code == 1000
    assert stream(f"/ws/executions/{execution.pk}?token={token}&since=abc") == ([], 4400)


def test_refusals(flow_of, account, other_namespace):
    execution = execution_create(flow=flow_of(GOOD), inputs={}, created_by=account)
    path = f"/ws/executions/{execution.pk}"
    assert stream(path) == ([], 4401)
    assert stream(f"{path}?token=garbage") == ([], 4401)
    assert stream(path, headers=[(b"authorization", b"Bearer nope")]) == ([], 4401)
    token = token_for(account)
    auth_logout(token=SlidingToken(token), account=account)
    assert stream(f"{path}?token={token}") == ([], 4401)
    stranger = AccountFactory(role=Role.ADMIN, default_namespace=other_namespace)
    stranger.role = Role.EDITOR
    stranger.save()
    fresh = token_for(account)
    assert stream(f"{path}?token={token_for(stranger)}") == ([], 4404)
    assert stream(f"/ws/executions/{Execution().id}?token={fresh}") == ([], 4404)
    assert stream(f"/ws/executions/not-a-uuid?token={fresh}") == ([], 4404)
    account.is_active = False
    account.save()
    assert stream(f"{path}?token={fresh}") == ([], 4401)


def test_api_tokens_and_viewers_may_watch(flow_of, account, settings, namespace):
    settings.MILLRACE_ENGINE_EAGER = True
    execution = execution_start(actor=account, flow=flow_of(GOOD), inputs={"name": "Di"})
    viewer = AccountFactory(role=Role.VIEWER, default_namespace=namespace)
    _, raw = api_token_create(actor=viewer, account=viewer, name="ws")
    messages, code = stream(f"/ws/executions/{execution.pk}", headers=[(b"authorization", f"Bearer {raw}".encode())])
    assert code == 1000 and types(messages)[-1] == "execution_completed"
    elsewhere = AccountFactory(role=Role.VIEWER, default_namespace=NamespaceFactory(name="far"))
    _, other_raw = api_token_create(actor=elsewhere, account=elsewhere, name="ws")
    assert stream(f"/ws/executions/{execution.pk}?token={other_raw}") == ([], 4404)


@pytest.mark.parametrize("prefix", ["", "/workflowdev"])
def test_workflowdev_log_stream(flow_of, account, settings, prefix):
    settings.MILLRACE_ENGINE_EAGER = True
    execution = execution_start(actor=account, flow=flow_of(GOOD), inputs={"name": "Ed"})
    lines, code = stream(f"{prefix}/api/v1/executions/{execution.pk}/logs?token={token_for(account)}")
    assert code == 1000
    assert len(lines) == ExecutionEvent.objects.filter(execution=execution).count()
    assert all(set(line) == {"timestamp", "level", "message", "taskName", "taskType", "executionId"} for line in lines)
    hello = next(line for line in lines if line["message"] == "Hello Ed")
    assert (hello["level"], hello["taskName"], hello["taskType"]) == ("INFO", "start", "util.log")
    assert hello["executionId"] == str(execution.pk)
    assert lines[-1]["message"] == "Execution completed" and lines[-1]["taskName"] is None
    assert stream(f"{prefix}/api/v1/executions/{execution.pk}/logs") == ([], 4401)


def test_workflowdev_log_stream_goes_live(flow_of, account, settings):
    execution = execution_create(flow=flow_of(BAD), inputs={}, created_by=account)

    def run_engine() -> None:
        settings.MILLRACE_ENGINE_EAGER = True
        runner.start_execution(str(execution.pk))

    first, rest, code = live(f"/api/v1/executions/{execution.pk}/logs?token={token_for(account)}", run_engine)
    assert first[0]["message"] == "Execution queued"
    assert rest[-1]["level"] == "ERROR" and code == 1000


def test_without_the_doorbell_polling_still_delivers(flow_of, account, settings):
    """Embedded mode: workers in another process cannot reach the in-memory layer."""
    execution = execution_create(flow=flow_of(GOOD), inputs={"name": "Flo"}, created_by=account)

    def run_engine() -> None:
        settings.MILLRACE_ENGINE_EAGER = True
        runner.start_execution(str(execution.pk))

    with mock.patch("executions.engine.events._doorbell.ring") as ring:
        first, rest, code = live(f"/ws/executions/{execution.pk}?token={token_for(account)}", run_engine)
    assert ring.called
    assert types(first + rest)[-1] == "execution_completed" and len(first + rest) == 8 and code == 1000
