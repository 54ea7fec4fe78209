"""The database broker of the embedded default: a written task rings the pusher's bell once it
commits, a pusher finding no task waits for a ring (up to `poll`) instead of reading the table
again, and a task taken leaves the table at once."""

import subprocess
import sys
import threading
import time
from pathlib import Path
from unittest import mock

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import OrmQ

from core import broker as broker_module
from core.bell import Bell
from core.broker import BellORM

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bell(tmp_path):
    peer = Bell(tmp_path / "queue")
    with mock.patch.object(broker_module, "database_bell", return_value=peer):
        yield peer


@pytest.fixture
def queues():
    """BellORM queues whose ports are closed after the test (a pusher's lives as long as it)."""
    made: list[BellORM] = []

    def make() -> BellORM:
        made.append(BellORM(list_key="bell-test"))
        return made[-1]

    yield make
    for queue in made:
        queue.close()


def dequeue_in_thread(queue: BellORM) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def run() -> None:
        try:
            started = time.monotonic()
            outcome["tasks"] = queue.dequeue()
            outcome["seconds"] = time.monotonic() - started
        finally:
            connections.close_all()  # the pusher's thread ends: its connection goes back to the pool

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def ring_from_another_process(peer: Bell) -> None:
    script = "import sys; from pathlib import Path; from core.bell import Bell; Bell(Path(sys.argv[1])).ring(b'1')"
    subprocess.run([sys.executable, "-c", script, str(peer.directory)], cwd=ROOT, check=True)


def test_a_pusher_with_nothing_queued_waits_for_a_ring_not_for_poll(bell, queues):
    queue = queues()
    with mock.patch("core.broker.Conf.POLL", 60):
        thread, outcome = dequeue_in_thread(queue)
        deadline = time.monotonic() + 10
        while not list(bell.directory.glob("*.*")):  # the pusher's port is registered
            assert time.monotonic() < deadline
            time.sleep(0.01)
        ring_from_another_process(bell)
        thread.join(30)

    assert outcome["tasks"] is None and outcome["seconds"] < 30  # woken, not the 60 s poll
    queue.enqueue("a task")
    assert [payload for _, payload in queue.dequeue()] == ["a task"]  # found at once


def test_writing_a_task_rings_the_queue_bell(bell, queues):
    with mock.patch.object(Bell, "ring") as ring:
        queues().enqueue("a task")

    ring.assert_called_once_with(b"1")
    assert OrmQ.objects.filter(key="bell-test").count() == 1


def test_a_task_another_cluster_locked_first_is_left_to_it(bell, queues):
    queue = queues()
    queue.enqueue("mine")
    queue.enqueue("taken")
    OrmQ.objects.filter(key="bell-test", payload="taken").update(lock=timezone.now() + timezone.timedelta(minutes=5))

    assert [payload for _, payload in queue.dequeue()] == ["mine"]
    with mock.patch("core.broker.Conf.POLL", 0.2):
        assert queue.dequeue() is None  # "mine" is locked now, "taken" still


def test_without_a_bell_it_is_django_q2s_broker(queues):
    """As on a database only one process can open (SQLite in memory)."""
    with mock.patch.object(broker_module, "database_bell", return_value=None):
        queue = queues()
        assert queue.bell() is None
    with mock.patch("django_q.brokers.orm.Conf.POLL", 0.2):
        started = time.monotonic()
        assert queue.dequeue() is None
        assert time.monotonic() - started >= 0.2  # django-q2's sleep
    queue.enqueue("a task")
    assert [payload for _, payload in queue.dequeue()] == ["a task"]


def test_a_task_written_in_a_transaction_rings_once_it_commits(bell, queues):
    queue = queues()
    with mock.patch.object(Bell, "ring") as ring:
        with transaction.atomic():
            queue.enqueue("a task")
            assert not ring.called  # a pusher rung now would not see the row
        ring.assert_called_once_with(b"1")
        with pytest.raises(RuntimeError), transaction.atomic():
            queue.enqueue("rolled back")
            raise RuntimeError
        assert ring.call_count == 1

    assert [payload for _, payload in queue.dequeue()] == ["a task"]


def test_a_taken_task_leaves_the_table_and_needs_no_acknowledgement(bell, queues):
    queue = queues()
    queue.enqueue("a task")
    [(ack_id, payload)] = queue.dequeue()

    assert payload == "a task" and not OrmQ.objects.filter(key="bell-test").exists()
    with CaptureQueriesContext(connection) as queries:
        queue.acknowledge(ack_id)
        queue.fail(ack_id)
    assert len(queries) == 0  # no write: on SQLite each would wait for the one writer


def test_taking_tasks_is_one_statement_oldest_first_at_most_bulk(bell, queues):
    queue = queues()
    for name in ("first", "second", "third"):
        queue.enqueue(name)
    with mock.patch("core.broker.Conf.BULK", 2), CaptureQueriesContext(connection) as queries:
        taken = queue.dequeue()

    assert [payload for _, payload in taken] == ["first", "second"]
    writes = [query["sql"] for query in queries if not query["sql"].lstrip().upper().startswith("SELECT")]
    assert len(writes) == 1 and writes[0].startswith("DELETE")  # no transaction, no row-by-row deletes
    assert list(OrmQ.objects.filter(key="bell-test").values_list("payload", flat=True)) == ["third"]
    assert [payload for _, payload in queues().dequeue()] == ["third"]  # another cluster finds only what is left
