"""The doorbell on Redis: rings are published on the layer's rings channel, merged per send,
and a server's one subscription hands them to the listeners of their group only."""

import asyncio
import time
import uuid
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from channels_redis.core import RedisChannelLayer
from django.conf import settings

from executions import listening
from executions.engine import events

pytestmark = pytest.mark.services


class CountingLayer(RedisChannelLayer):
    def __init__(self) -> None:
        super().__init__(hosts=[settings.REDIS_URL], prefix=f"test-{uuid.uuid4().hex}")


async def _published(layer: CountingLayer, ring: callable, count: int) -> list[bytes]:
    """Subscribe to the layer's rings, call `ring()` in a thread, and collect `count` messages."""
    pubsub = layer.connection(0).pubsub()
    await pubsub.subscribe(events.ring_channel(layer))
    await pubsub.get_message(timeout=2)  # the subscription's confirmation
    await asyncio.to_thread(ring)
    found = []
    try:
        while len(found) < count:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
            assert message is not None, f"only {found} were published"
            found.append(message["data"])
    finally:
        await pubsub.aclose()
    return found


def test_rings_during_a_send_and_its_interval_are_merged_into_one_more_publish():
    layer = CountingLayer()

    def ring() -> None:
        events._doorbell.ring("execution-busy", 1)
        time.sleep(0.1)  # that send is done: only the interval merges what follows
        for event_id in range(2, 6):
            events._doorbell.ring("execution-busy", event_id)
            events._doorbell.ring("execution-other", event_id * 10)
        events.drain_doorbell()

    with (
        mock.patch.object(events, "get_channel_layer", return_value=layer),
        mock.patch.object(events, "SEND_INTERVAL", 0.5),
    ):
        published = async_to_sync(_published)(layer, ring, 2)

    assert published[0] == b"execution-busy 1 0"  # the first ring at once
    assert sorted(events.parse_rings(published[1])) == [("execution-busy", 5, False), ("execution-other", 50, False)]


def test_the_ring_that_ends_an_execution_goes_at_once_with_what_was_due_for_it():
    layer = CountingLayer()

    def ring() -> None:
        events._doorbell.ring("execution-busy", 1)
        time.sleep(0.1)  # in the interval: the next rings wait for it
        events._doorbell.ring("execution-ending", 7)
        events._doorbell.ring("execution-busy", 2)
        events._doorbell.ring("execution-ending", 5, ended=True)  # carries the 7 that was due
        events.drain_doorbell()

    with (
        mock.patch.object(events, "get_channel_layer", return_value=layer),
        mock.patch.object(events, "SEND_INTERVAL", 2.0),
    ):
        published = async_to_sync(_published)(layer, ring, 3)

    assert published[0] == b"execution-busy 1 0"
    assert published[1] == b"execution-ending 7 1"  # on its own, not merged into the interval's send
    assert published[2] == b"execution-busy 2 0"  # the merge goes on for the others


def test_an_end_ring_redis_refuses_is_logged_and_the_step_goes_on(caplog):
    layer = RedisChannelLayer(hosts=["redis://127.0.0.1:1/0"], prefix=f"test-{uuid.uuid4().hex}")
    with mock.patch.object(events, "get_channel_layer", return_value=layer):
        events._doorbell.ring("execution-gone", 3, ended=True)
    assert "Could not announce an execution's end" in caplog.text


def test_one_subscription_hands_each_ring_to_the_listeners_of_its_group_only():
    layer = CountingLayer()
    heard: dict[str, list[tuple[int, bool]]] = {"a": [], "b": [], "c": []}

    async def listen() -> int:
        joined = asyncio.Event()
        with mock.patch.object(listening, "get_channel_layer", return_value=layer):
            tasks = [
                asyncio.create_task(
                    listening.follow(f"execution-{name}", lambda i, e, n=name: heard[n].append((i, e)), joined.set)
                )
                for name in heard
            ]
            await asyncio.wait_for(joined.wait(), 5)
            connection = layer.connection(0)
            await connection.publish(events.ring_channel(layer), b"execution-a 3 0\nexecution-b 4 1\nnot a ring")
            await connection.publish(events.ring_channel(layer), b"execution-a 7 1")
            for _ in range(100):
                if len(heard["a"]) == 2 and heard["b"]:
                    break
                await asyncio.sleep(0.02)
            subscriptions = {id(listening._subscriptions[asyncio.get_running_loop()])}
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            left = dict(listening._subscriptions[asyncio.get_running_loop()].groups)
            return len(subscriptions), left

    count, left = async_to_sync(listen)()
    assert count == 1
    assert heard == {"a": [(3, False), (7, True)], "b": [(4, True)], "c": []}
    assert left == {}  # listeners that left are forgotten


def test_listeners_hear_again_after_the_subscription_is_lost(monkeypatch):
    layer = CountingLayer()
    joins: list[float] = []
    heard: list[int] = []
    monkeypatch.setattr(listening, "RETRY_SECONDS", 0.05)

    async def listen() -> None:
        with mock.patch.object(listening, "get_channel_layer", return_value=layer):
            task = asyncio.create_task(
                listening.follow("execution-x", lambda i, e: heard.append(i), lambda: joins.append(1))
            )
            for _ in range(100):
                if joins:
                    break
                await asyncio.sleep(0.02)
            # Redis drops the subscriber (as on a restart or a full output buffer)
            await listening._subscriptions[asyncio.get_running_loop()].pubsub.connection.disconnect()
            for _ in range(200):
                if len(joins) == 2:
                    break
                await asyncio.sleep(0.02)
            await layer.connection(0).publish(events.ring_channel(layer), b"execution-x 9 0")
            for _ in range(100):
                if heard:
                    break
                await asyncio.sleep(0.02)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async_to_sync(listen)()
    assert len(joins) == 2  # told again to read what it may have missed
    assert heard == [9]


def test_a_loop_s_subscription_is_forgotten_when_the_loop_ends():
    layer = CountingLayer()
    loops = []

    async def listen() -> None:
        loops.append(asyncio.get_running_loop())
        with mock.patch.object(listening, "get_channel_layer", return_value=layer):
            task = asyncio.create_task(listening.follow("execution-y", lambda i, e: None, lambda: None))
            await asyncio.sleep(0.1)
            assert loops[0] in listening._subscriptions
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async_to_sync(listen)()  # a loop of its own, closed at the end: its subscription is cancelled
    assert loops[0] not in listening._subscriptions
