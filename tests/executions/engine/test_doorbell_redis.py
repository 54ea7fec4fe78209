"""The doorbell on Redis: rings reach the groups someone listens to, and only those."""

import time
import uuid
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from channels_redis.core import RedisChannelLayer
from django.conf import settings

from executions.engine import events

pytestmark = pytest.mark.services


class CountingLayer(RedisChannelLayer):
    def __init__(self) -> None:
        super().__init__(hosts=[settings.REDIS_URL], prefix=f"test-{uuid.uuid4().hex}")
        self.sends: list[str] = []
        self.event_ids: list[int] = []

    async def group_send(self, group: str, message: dict) -> None:
        self.sends.append(group)
        self.event_ids.append(message["event_id"])
        await super().group_send(group, message)


def test_only_listened_groups_are_sent_to_and_their_listeners_get_the_latest_event():
    layer = CountingLayer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("execution-watched", channel)
    with mock.patch.object(events, "get_channel_layer", return_value=layer):
        events._doorbell.ring("execution-unwatched", 4)
        events._doorbell.ring("execution-watched", 5)
        events.drain_doorbell()
        async_to_sync(layer.group_discard)("execution-watched", channel)
        events._doorbell.ring("execution-watched", 6)  # its last listener left
        events.drain_doorbell()

    assert layer.sends == ["execution-watched"]
    assert async_to_sync(layer.receive)(channel) == {"type": "execution.event", "event_id": 5}


def test_rings_during_a_send_and_its_interval_are_merged_into_one_more_send():
    layer = CountingLayer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("execution-busy", channel)
    with (
        mock.patch.object(events, "get_channel_layer", return_value=layer),
        mock.patch.object(events, "SEND_INTERVAL", 0.5),
    ):
        for event_id in range(1, 6):
            events._doorbell.ring("execution-busy", event_id)
            time.sleep(0.05)  # each send is long done: only the interval merges them
        events.drain_doorbell()

    assert layer.sends == ["execution-busy", "execution-busy"]  # the first ring at once, four merged
    assert layer.event_ids == [1, 5]
