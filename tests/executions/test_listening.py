"""How a server process hears that an execution moved: rings from other processes by the bell
reach its feeds and its waits, a wait reads again only when a ring says the execution ended
(or after a pause), and every ring says whether its transaction ended the execution."""

import asyncio
import itertools
import subprocess
import sys
import threading
import time
from pathlib import Path
from unittest import mock

import pytest
import redis
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connections, transaction

from accounts.roles import Role
from config.asgi import application
from core.bell import Bell
from executions import listening
from executions.consumers import Feed
from executions.engine import events
from executions.engine.events import batched, bell_message, event_append, group_name, ring_channel
from executions.engine.transitions import transition
from executions.engine.writes import deferred_writes
from executions.models import Execution, ExecutionStatus
from executions.services import execution_create
from tests.conftest import token_for
from tests.factories import AccountFactory, FlowFactory
from tests.sockets import in_loop

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def account(namespace):
    return AccountFactory(role=Role.EXECUTOR, default_namespace=namespace)


@pytest.fixture
def queued(namespace, account) -> Execution:
    return execution_create(flow=FlowFactory(namespace=namespace, created_by=account), created_by=account)


@pytest.fixture
def bell(tmp_path):
    """A bell as on the embedded default with a file database (the test database is in memory),
    and its in-memory channel layer (the suite may run on Redis)."""
    peer = Bell(tmp_path / "bell")
    with (
        mock.patch.object(listening, "peer_bell", return_value=peer),
        mock.patch.object(listening, "get_channel_layer", return_value=InMemoryChannelLayer()),
    ):
        yield peer
    listening._port.close()


def ring_from_a_worker(peer: Bell, execution: Execution, event_id: int, ended: bool) -> None:
    """A ring as a worker process sends it, from another process."""
    script = "import sys; from pathlib import Path; from core.bell import Bell\n"
    script += "Bell(Path(sys.argv[1])).ring(sys.argv[2].encode())\n"
    message = bell_message(group_name(execution.pk), event_id, ended).decode()
    subprocess.run([sys.executable, "-c", script, str(peer.directory), message], cwd=ROOT, check=True)


def end_quietly(execution: Execution) -> None:
    """End the execution without ringing this process (a worker elsewhere did it)."""
    with mock.patch.object(events._doorbell, "ring"), transaction.atomic():
        transition(Execution.objects.get(pk=execution.pk), ExecutionStatus.CANCELLED, message="ended elsewhere")


def wait_in_thread(execution: Execution, seconds: float, reads: list[float]) -> tuple[threading.Thread, dict]:
    """`execution_wait` in a thread of its own, as a request's thread runs it; `reads` gets the
    time each read ended."""
    outcome: dict = {}
    refresh = listening.execution_refresh

    def counted(*args, **kwargs):
        refresh(*args, **kwargs)
        reads.append(time.monotonic())

    def run() -> None:
        try:
            with mock.patch.object(listening, "execution_refresh", counted):
                started = time.monotonic()
                outcome["status"] = listening.execution_wait(execution, seconds).status
                outcome["seconds"] = time.monotonic() - started
        finally:
            connections.close_all()  # as a request's end does: the connection goes back to the pool

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def until(condition, what: str) -> None:
    deadline = time.monotonic() + 10  # a guard against hanging, not a timing
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_a_wait_reads_again_when_a_ring_from_a_worker_says_the_execution_ended(queued, bell):
    reads: list[float] = []
    with mock.patch.object(listening, "WAIT_READ_SECONDS", 60):
        thread, outcome = wait_in_thread(queued, 120, reads)
        until(lambda: group_name(queued.pk) in listening._port.groups and reads, "the wait to listen")
        ring_from_a_worker(bell, queued, 1, ended=False)  # a step: no read for it
        time.sleep(0.3)
        assert len(reads) == 1
        end_quietly(queued)
        ring_from_a_worker(bell, queued, 2, ended=True)
        thread.join(30)

    assert outcome["status"] == ExecutionStatus.CANCELLED and outcome["seconds"] < 30  # not the 60 s pause
    assert len(reads) == 2
    until(lambda: group_name(queued.pk) not in listening._port.groups, "the wait to stop listening")


def test_a_wait_without_rings_from_other_processes_reads_after_growing_pauses(queued):
    """Where they cannot come: the in-memory layer without a bell (an in-memory database)."""
    reads: list[float] = []
    with (
        mock.patch.object(listening, "DEAF_PAUSES", (0.05, 0.2)),
        mock.patch.object(listening, "hearing", lambda: False),
    ):
        thread, outcome = wait_in_thread(queued, 30, reads)
        until(lambda: len(reads) >= 5, "five reads")
        end_quietly(queued)
        thread.join(30)

    assert outcome["status"] == ExecutionStatus.CANCELLED
    pauses = [later - earlier for earlier, later in itertools.pairwise(reads)]
    assert pauses[0] < 0.15 and max(pauses) < 1.0 and pauses[3] >= 0.15


def test_a_wait_gives_up_after_its_seconds_with_the_status_it_last_read(queued, bell):
    reads: list[float] = []
    thread, outcome = wait_in_thread(queued, 0.5, reads)
    thread.join(30)

    assert outcome["status"] == ExecutionStatus.QUEUED and 0.4 < outcome["seconds"] < 5
    assert len(reads) == 2  # after joining, and once the time was up


def test_an_ended_execution_is_read_once(queued, bell):
    end_quietly(queued)
    reads: list[float] = []
    thread, outcome = wait_in_thread(queued, 30, reads)
    thread.join(30)

    assert outcome["status"] == ExecutionStatus.CANCELLED and len(reads) == 1


def test_a_feed_reads_when_a_worker_rings_by_the_bell(queued, account, bell):
    url = f"/ws/executions/{queued.pk}?token={token_for(account)}&event_ids=true"

    def log_quietly() -> int:
        with mock.patch.object(events._doorbell, "ring"), transaction.atomic():
            return event_append(execution_id=queued.pk, type="log", message="from a worker").id

    async def run() -> tuple[int, dict]:
        comm = WebsocketCommunicator(application, url)
        assert (await comm.connect(timeout=5))[0]
        await comm.receive_json_from(5)  # the replayed "queued" event
        async with asyncio.timeout(5):  # joined, and done with the read its joining made
            while not ((feed := Feed._open.get(queued.pk)) and feed.in_group and not feed.wake.is_set()):
                await asyncio.sleep(0.01)
            while feed.reading:
                await asyncio.sleep(0.01)
        assert group_name(queued.pk) in listening._port.groups
        written = await database_sync_to_async(log_quietly)()
        await asyncio.sleep(0.3)
        assert await comm.receive_nothing(0.1)  # no ring yet, and the feed does not poll
        await asyncio.to_thread(ring_from_a_worker, bell, queued, written, False)
        message = await comm.receive_json_from(5)
        await comm.disconnect()
        return written, message

    with mock.patch.object(Feed, "poll_interval", 3600):
        written, message = in_loop(run)

    assert message["event_id"] == written and message["message"] == "from a worker"


class Recorder:
    def __init__(self) -> None:
        self.rung: list[bytes] = []

    def ring(self, message: bytes) -> None:
        self.rung.append(message)


def test_the_doorbell_rings_the_bell_and_says_which_transaction_ended_the_execution(queued):
    recorder = Recorder()
    with (
        mock.patch.object(events, "peer_bell", return_value=recorder),
        mock.patch.object(events, "get_channel_layer", return_value=InMemoryChannelLayer()),
    ):
        with transaction.atomic():
            transition(Execution.objects.get(pk=queued.pk), ExecutionStatus.RUNNING)
            event_append(execution_id=queued.pk, type="log", message="working")
        with transaction.atomic():
            last = event_append(execution_id=queued.pk, type="log", message="done")
            transition(Execution.objects.get(pk=queued.pk), ExecutionStatus.SUCCESS)
        ended_id = queued.events.order_by("-id").first().id

    group = group_name(queued.pk)
    assert len(recorder.rung) == 2 and recorder.rung[1] == bell_message(group, ended_id, True)
    assert recorder.rung[0].endswith(b" 0") and ended_id > last.id


@pytest.mark.services
def test_a_wait_on_redis_hears_the_doorbell_of_the_transaction_that_ends_the_execution(queued):
    reads: list[float] = []
    with mock.patch.object(listening, "WAIT_READ_SECONDS", 60):
        thread, outcome = wait_in_thread(queued, 120, reads)
        until(lambda: reads, "the wait to listen")
        with transaction.atomic():
            transition(Execution.objects.get(pk=queued.pk), ExecutionStatus.CANCELLED, message="cancelled")
        thread.join(30)

    assert outcome["status"] == ExecutionStatus.CANCELLED and outcome["seconds"] < 30
    assert len(reads) == 2


@pytest.mark.services
def test_long_waits_give_their_pooled_connections_back_while_they_sleep(namespace, account):
    """More waits than the pool has connections all read: a long wait that held its connection
    while asleep kept every later request waiting for the pool. The first ones keep theirs for
    `LEND_AFTER_SECONDS`, and the last ones read once those give theirs back."""
    size = connections["default"].pool.max_size
    flow = FlowFactory(namespace=namespace, created_by=account)
    executions = [execution_create(flow=flow, created_by=account) for _ in range(size + 2)]
    read: set = set()
    outcomes: list = []
    refresh = listening.execution_refresh

    def counted(execution, fields):
        refresh(execution, fields)
        read.add(execution.pk)

    def wait(execution: Execution) -> None:
        try:
            outcomes.append(listening.execution_wait(execution, 120).status)
        finally:
            connections.close_all()

    with (
        mock.patch.object(listening, "WAIT_READ_SECONDS", 0.1),
        mock.patch.object(listening, "LEND_AFTER_SECONDS", 0.5),
        mock.patch.object(listening, "execution_refresh", counted),
    ):
        threads = [threading.Thread(target=wait, args=(execution,)) for execution in executions]
        for thread in threads:
            thread.start()
        until(lambda: len(read) == len(executions), "every wait to read")
        for execution in executions:
            with transaction.atomic():
                transition(Execution.objects.get(pk=execution.pk), ExecutionStatus.CANCELLED, message="cancelled")
        for thread in threads:
            thread.join(30)

    assert outcomes == [ExecutionStatus.CANCELLED] * len(executions)


async def the_ring_channel() -> str:
    return ring_channel(get_channel_layer())


@pytest.mark.services
def test_a_wait_outside_a_request_leaves_no_subscription_behind(queued):
    """Its loop is its own, and so is its subscription to the rings: both end with the wait
    (a server's subscription, on the loop serving requests, is the one that stays)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    channel = asyncio.run(the_ring_channel())

    def subscribers() -> int:
        return dict(client.pubsub_numsub(channel))[channel.encode()]

    before = subscribers()
    reads: list[float] = []
    thread, outcome = wait_in_thread(queued, 0.5, reads)
    thread.join(30)
    assert outcome["status"] == ExecutionStatus.QUEUED and reads
    until(lambda: subscribers() == before, "the wait's subscription to end")
    assert not any(t.name == "millrace-listening" for t in threading.enumerate())


def test_a_flush_that_ends_the_execution_rings_ended_on_every_database(queued):
    """SQLite inserts a flush's events through the ORM, PostgreSQL in the flush's one statement
    (`take_batch`): both rings say the transaction ended the execution, and only that one."""
    rings: list[tuple[int, bool]] = []
    with mock.patch.object(events._doorbell, "ring", lambda group, event_id, *, ended: rings.append(ended)):
        with transaction.atomic(), batched(), deferred_writes():
            transition(Execution.objects.get(pk=queued.pk), ExecutionStatus.RUNNING, message="started")
        with transaction.atomic(), batched(), deferred_writes():
            transition(Execution.objects.get(pk=queued.pk), ExecutionStatus.SUCCESS, message="done")

    assert rings == [False, True]
