"""Hundreds of execution streams opening and closing at once on a real server with Redis: they
share their execution's feed and the server process's one subscription to the rings, so a
burst costs Redis nothing per socket (found by `make load`: the channel layer's Redis pool
refused connections past 100 in flight when every socket joined and left a group itself)."""

import asyncio
import json

import pytest
import redis
from channels.layers import get_channel_layer
from django.conf import settings
from websockets.asyncio.client import connect

from accounts.roles import Role
from executions.engine.events import ring_channel
from executions.services import execution_cancel, execution_create
from tests.conftest import token_for
from tests.factories import AccountFactory, FlowFactory
from tests.system.conftest import wait_until

pytestmark = pytest.mark.services

SOCKETS = 150


async def _burst(url: str, subscribers: callable) -> tuple[list[dict], list[int]]:
    """Open every socket at once, read each one's first message and count the subscribers to
    the rings, then close them all at once."""
    sockets = await asyncio.gather(*(connect(url, open_timeout=30) for _ in range(SOCKETS)))
    try:
        first = await asyncio.wait_for(asyncio.gather(*(socket.recv() for socket in sockets)), 30)
        counted = await asyncio.to_thread(subscribers)
    finally:
        await asyncio.gather(*(socket.close() for socket in sockets))
    return [json.loads(message) for message in first], counted


async def _channel() -> str:
    return ring_channel(get_channel_layer())


async def _last(url: str) -> dict:
    async with connect(url, open_timeout=30) as socket:
        while True:
            message = json.loads(await asyncio.wait_for(socket.recv(), 30))
            if message["type"] != "execution_update":
                return message


def test_sockets_opening_and_closing_together_share_the_server_s_one_subscription(server, namespace):
    account = AccountFactory(role=Role.ADMIN, default_namespace=namespace)
    flow = FlowFactory(namespace=namespace, created_by=account)
    execution = execution_create(flow=flow, created_by=account)  # stays QUEUED: the streams stay open
    client = redis.Redis.from_url(settings.REDIS_URL)
    channel = asyncio.run(_channel())
    url = f"{server.replace('http://', 'ws://')}/ws/executions/{execution.pk}?token={token_for(account)}"

    first, counted = asyncio.run(_burst(url, lambda: dict(client.pubsub_numsub(channel))[channel.encode()]))

    assert [message["type"] for message in first] == ["execution_update"] * SOCKETS
    assert counted == 1  # the server process's subscription, not one per socket
    # after the burst, a new socket still hears the execution end by its ring
    waiting = asyncio.new_event_loop()
    try:
        last = waiting.create_task(_last(url))
        waiting.run_until_complete(asyncio.sleep(1))
        execution_cancel(execution=execution, actor=account)
        message = waiting.run_until_complete(last)
    finally:
        waiting.close()
    assert message["status"] == "cancelled"
    wait_until(lambda: dict(client.pubsub_numsub(channel))[channel.encode()] == 1, 5, "the subscription to stay")
