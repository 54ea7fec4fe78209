"""The doorbell on Redis: rings reach the groups someone listens to, and only those."""

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

    async def group_send(self, group: str, message: dict) -> None:
        self.sends.append(group)
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
