"""The task broker on Redis: every waiting task per round trip, one blocking wait when none."""

import threading
import time
import uuid
from unittest import mock

import pytest
from redis.exceptions import ResponseError

from core.broker import BulkRedis

pytestmark = pytest.mark.services


@pytest.fixture
def broker():
    queue = BulkRedis(list_key=f"test-{uuid.uuid4().hex}")
    yield queue
    queue.delete_queue()


def test_a_dequeue_takes_every_waiting_task_in_order_up_to_bulk(broker):
    for n in range(5):
        broker.enqueue(f"task-{n}")
    with mock.patch("core.broker.Conf.BULK", 3):
        first, second = broker.dequeue(), broker.dequeue()

    assert [task for _, task in first] == [b"task-0", b"task-1", b"task-2"]
    assert [task for _, task in second] == [b"task-3", b"task-4"]
    assert broker.queue_size() == 0


def test_an_empty_queue_blocks_until_a_task_comes_or_a_second_passes(broker):
    started = time.monotonic()
    assert broker.dequeue() is None
    assert time.monotonic() - started >= 0.9  # waited on the server, not a busy loop

    threading.Timer(0.2, broker.enqueue, args=["late"]).start()
    assert broker.dequeue() == [(None, b"late")]


def test_a_redis_without_counted_pops_gets_one_task_per_round_trip(broker):
    broker.enqueue("a")
    broker.enqueue("b")
    refused = ResponseError("wrong number of arguments for 'lpop' command")
    with mock.patch.object(broker.connection, "lpop", side_effect=refused) as lpop:
        taken = [broker.dequeue(), broker.dequeue()]

    assert taken == [[(None, b"a")], [(None, b"b")]]
    assert lpop.call_count == 1  # asked once, then not again


def test_the_cluster_and_the_engine_use_it():
    from django_q.brokers import get_broker

    assert isinstance(get_broker(), BulkRedis)
