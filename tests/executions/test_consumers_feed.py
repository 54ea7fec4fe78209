"""The shared feed behind execution WebSockets: every socket of one execution in a process is
served by one read per doorbell, each socket gets every event once and in order from its own
cursor (also when doorbells are lost), and the feed leaves the group when the last socket goes."""

import asyncio
import json
import threading
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import Account
from accounts.roles import Role
from api.flowrunner.consumers import FlowRunnerExecutionConsumer
from api.workflowdev.consumers import WorkflowdevLogConsumer
from config.asgi import application
from executions import consumers
from executions.consumers import Feed
from executions.engine.events import _doorbell, event_append
from executions.models import Execution, ExecutionEvent
from executions.services import execution_cancel, execution_create
from tests.conftest import token_for
from tests.factories import AccountFactory, FlowFactory
from tests.sockets import in_loop, read_all, stream

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def account(namespace) -> Account:
    return AccountFactory(role=Role.EXECUTOR, default_namespace=namespace)


@pytest.fixture
def queued(namespace, account) -> Execution:
    """An execution that stays QUEUED (one event) until the test writes more or cancels it."""
    return execution_create(flow=FlowFactory(namespace=namespace, created_by=account), created_by=account)


def paths(execution: Execution, account: Account) -> list[str]:
    token = token_for(account)
    return [
        f"/ws/executions/{execution.pk}?token={token}&event_ids=true",
        f"/ws/executions/{execution.pk}?token={token}",
        f"/api/v1/executions/{execution.pk}/logs?token={token}",
    ]


def append_logs(execution: Execution, messages: list[str]) -> list[int]:
    """One transaction (and so one doorbell) per message."""
    ids = []
    for message in messages:
        with transaction.atomic():
            ids.append(event_append(execution_id=execution.pk, type="log", message=message).id)
    return ids


async def until(condition) -> None:
    """Let the loop run until `condition()` holds (a guard of 5 s against hanging, not a timing)."""
    async with asyncio.timeout(5):
        while not condition():
            await asyncio.sleep(0.01)


async def joined(execution: Execution, count: int) -> Feed:
    """The execution's feed once `count` sockets follow it, it is in the group and idle."""

    def idle() -> bool:
        feed = Feed._open.get(execution.pk)
        return (
            feed is not None
            and len(feed.subscribers) == count
            and feed.in_group
            and not feed.wake.is_set()
            and not feed.reading
        )

    await until(idle)
    return Feed._open[execution.pk]


async def gone(feed: Feed) -> None:
    """The feed ended with its last socket and left the group."""
    await until(lambda: feed.execution_id not in Feed._open and feed.task.done() and feed.listener.done())


def test_every_socket_of_an_execution_is_served_by_one_read_per_doorbell(queued, account):
    sockets = 3 * 4
    urls = paths(queued, account) * 4

    async def run():
        comms = [WebsocketCommunicator(application, url) for url in urls]
        for comm in comms:
            assert (await comm.connect(timeout=5))[0]
            await comm.receive_json_from(5)  # the replayed "queued" event
        feed = await joined(queued, sockets)
        capture = CaptureQueriesContext(connection)
        await database_sync_to_async(capture.__enter__)()
        (written,) = await database_sync_to_async(append_logs)(queued, ["one ring"])
        received = [await comm.receive_json_from(5) for comm in comms]
        await joined(queued, sockets)
        await database_sync_to_async(capture.__exit__)(None, None, None)
        queries = await database_sync_to_async(lambda: [query["sql"] for query in capture.captured_queries])()
        for comm in comms:
            await comm.disconnect()
        await gone(feed)
        return written, received, queries

    # reads on the shared database thread, so that the capture sees them on any database
    with mock.patch.object(Feed, "poll_interval", 3600), mock.patch.object(Feed, "read_threads", 0):
        written, received, queries = in_loop(run)

    assert [message["event_id"] for message in received[0::3]] == [written] * 4
    assert [message["message"] for message in received[1::3]] == ["one ring"] * 4
    assert [message["message"] for message in received[2::3]] == ["one ring"] * 4
    reads = [sql for sql in queries if sql.startswith("SELECT")]
    assert len([sql for sql in reads if 'FROM "executions_executionevent"' in sql]) == 1, reads
    assert len([sql for sql in reads if 'FROM "executions_execution" ' in sql]) == 1, reads


def test_lost_doorbells_lose_no_event_and_cursors_stay_each_sockets_own(queued, account):
    first = ExecutionEvent.objects.get(execution=queued).id
    flowrunner, _, logs = paths(queued, account)
    ring = _doorbell.ring
    rung = []

    def now_and_then(group: str, event_id: int, *, ended: bool = False) -> None:
        rung.append(event_id)
        if len(rung) % 3 == 0:
            ring(group, event_id, ended=ended)

    async def run():
        early = [WebsocketCommunicator(application, url) for url in (flowrunner, logs)]
        for comm in early:
            assert (await comm.connect(timeout=5))[0]
        feed = await joined(queued, 2)
        await database_sync_to_async(append_logs)(queued, [f"before {n}" for n in range(5)])
        # joins later, from a cursor of its own, while the others are live
        late = WebsocketCommunicator(application, f"{flowrunner}&since={first + 2}")
        assert (await late.connect(timeout=5))[0]
        await database_sync_to_async(append_logs)(queued, [f"after {n}" for n in range(7)])
        await database_sync_to_async(execution_cancel)(actor=account, execution=queued)
        results = [await read_all(comm) for comm in [*early, late]]
        await gone(feed)
        return results

    with mock.patch.object(_doorbell, "ring", now_and_then), mock.patch.object(Feed, "poll_interval", 0.05):
        (every, code), (lines, log_code), (resumed, late_code) = in_loop(run)

    ids = list(ExecutionEvent.objects.filter(execution=queued).order_by("id").values_list("id", flat=True))
    assert len(rung) > 3 and (code, log_code, late_code) == (1000, 1000, 1000)
    assert [message["event_id"] for message in every] == ids
    assert [message["event_id"] for message in resumed] == [i for i in ids if i > first + 2]
    assert every[-1]["type"] == "execution_failed" and every[-1]["status"] == "cancelled"
    texts = [line["message"] for line in lines]
    assert len(texts) == len(ids)
    assert [t for t in texts if t.startswith(("before", "after"))] == [f"before {n}" for n in range(5)] + [
        f"after {n}" for n in range(7)
    ]


def test_a_failed_read_closes_every_socket_with_1011(queued, account):
    urls = paths(queued, account)

    async def run():
        comms = [WebsocketCommunicator(application, url) for url in urls]
        for comm in comms:
            assert (await comm.connect(timeout=5))[0]
            await comm.receive_json_from(5)
        feed = await joined(queued, 3)
        with mock.patch.object(Feed, "_read", side_effect=RuntimeError("database gone")):
            await database_sync_to_async(append_logs)(queued, ["unread"])
            results = [await read_all(comm) for comm in comms]
        await gone(feed)
        return results

    with mock.patch.object(Feed, "poll_interval", 3600):
        results = in_loop(run)

    assert results == [([], 1011)] * 3


def test_a_failed_first_read_closes_the_socket_with_1011(queued, account):
    (url, *_) = paths(queued, account)
    with mock.patch("executions.consumers.read_events", side_effect=RuntimeError("database gone")):
        assert stream(url) == ([], 1011)


def test_one_read_serves_sockets_at_different_cursors_each_from_its_own(queued, account):
    ids = [ExecutionEvent.objects.get(execution=queued).id, *append_logs(queued, [f"log {n}" for n in range(4)])]

    def socket(consumer: type, cursor: int, query: str = "") -> Any:
        subscriber = consumer()
        subscriber.cursor, subscriber.options = cursor, {"event_ids": [query]} if query else {}
        return subscriber

    behind, ahead = socket(FlowRunnerExecutionConsumer, 0, "true"), socket(FlowRunnerExecutionConsumer, ids[2], "true")
    twin = socket(FlowRunnerExecutionConsumer, ids[2], "true")
    lines = socket(WorkflowdevLogConsumer, ids[3])
    translate = mock.patch.object(FlowRunnerExecutionConsumer, "translate", autospec=True, side_effect=TRANSLATE)

    with CaptureQueriesContext(connection) as queries, translate as translated:
        texts, last, done, more = Feed._read(SimpleNamespace(execution_id=queued.pk), [behind, ahead, twin, lines])

    assert len(queries) == 2  # the execution, then its events after the lowest cursor
    assert (last, done, more) == (ids[-1], False, False)
    assert [json.loads(text)["event_id"] for text in texts[behind]] == ids
    assert [json.loads(text)["event_id"] for text in texts[ahead]] == ids[3:]
    assert texts[twin] is texts[ahead] and translated.call_count == 2  # translated once per key and cursor
    assert [json.loads(text)["message"] for text in texts[lines]] == ["log 3"]


TRANSLATE = FlowRunnerExecutionConsumer.translate


def test_an_execution_that_ends_between_the_status_and_the_events_read_ends_its_stream_as_final(queued, account):
    """The status was read before the transaction that ended the execution committed, its events
    after: the terminal event is still shown as final (not as an update)."""
    events = consumers.execution_events

    def ended_meanwhile(**kwargs: Any) -> Any:
        execution_cancel(actor=account, execution=Execution.objects.get(pk=queued.pk))
        return events(**kwargs)

    subscriber = FlowRunnerExecutionConsumer()
    subscriber.cursor, subscriber.options = 0, {}
    with mock.patch.object(consumers, "execution_events", side_effect=ended_meanwhile):
        texts, _, done, _ = Feed._read(SimpleNamespace(execution_id=queued.pk), [subscriber])

    messages = [json.loads(text) for text in texts[subscriber]]
    assert [message["type"] for message in messages] == ["execution_update", "execution_failed"]
    assert messages[-1]["status"] == "cancelled"
    assert not done  # the next read, which sees the status first, ends the stream


def test_a_loop_closing_on_open_sockets_ends_their_feed(queued, account):
    """A feed must not swallow its cancellation (as `asyncio.wait_for` may in Python 3.11)."""
    urls, feeds = paths(queued, account) * 4, []

    async def run():
        comms = [WebsocketCommunicator(application, url) for url in urls]
        for comm in comms:
            assert (await comm.connect(timeout=5))[0]
            await comm.receive_json_from(5)
        feeds.append(Feed._open[queued.pk])  # and return with the sockets open

    def in_own_thread() -> None:
        try:
            in_loop(run)
        finally:
            connections.close_all()

    closing = threading.Thread(target=in_own_thread, daemon=True)
    closing.start()
    closing.join(30)  # a guard against hanging the suite, not a timing

    assert not closing.is_alive(), "the loop never closed: a feed kept running after it was cancelled"
    assert feeds[0].task.done() and feeds[0].listener.done() and queued.pk not in Feed._open


def test_a_ring_that_ends_the_execution_is_read_without_waiting_for_the_read_gap(queued, account):
    flowrunner = paths(queued, account)[0]

    async def run() -> list[dict]:
        comm = WebsocketCommunicator(application, flowrunner)
        assert (await comm.connect(timeout=5))[0]
        await comm.receive_json_from(5)  # the replayed "queued" event
        await until(lambda: (feed := Feed._open.get(queued.pk)) and feed.in_group and not feed.reading)
        await database_sync_to_async(append_logs)(queued, ["a step"])  # within the gap of the joining read
        await database_sync_to_async(execution_cancel)(execution=queued, actor=account)
        received = [await comm.receive_json_from(5) for _ in range(2)]  # well inside the 60 s gap
        await comm.disconnect()
        return received

    with mock.patch.object(Feed, "poll_interval", 3600), mock.patch.object(Feed, "read_gap", 60):
        received = in_loop(run)

    assert received[0]["message"] == "a step"
    assert received[1]["status"] == "cancelled", received
