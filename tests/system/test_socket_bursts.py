"""Hundreds of execution streams opening and closing at once on a real server with Redis: they
share one member of their execution's channel-layer group (the server process's feed), which
leaves it with the last socket (found by `make load`: the channel layer's Redis pool refused
connections past 100 in flight when every socket joined and left the group itself)."""

import asyncio
import json

import pytest
import redis
from django.conf import settings
from websockets.asyncio.client import connect

from accounts.roles import Role
from executions.engine.events import group_name
from executions.services import execution_create
from tests.conftest import token_for
from tests.factories import AccountFactory, FlowFactory
from tests.system.conftest import wait_until

pytestmark = pytest.mark.services

SOCKETS = 150


async def _burst(url: str, members: redis.Redis, group: bytes) -> list[dict]:
    """Open every socket at once, read each one's first message, then close them all at once."""
    sockets = await asyncio.gather(*(connect(url, open_timeout=30) for _ in range(SOCKETS)))
    try:
        first = await asyncio.wait_for(asyncio.gather(*(socket.recv() for socket in sockets)), 30)
        await asyncio.to_thread(wait_until, lambda: members.zcard(group) == 1, 30, "the feed in the group")
    finally:
        await asyncio.gather(*(socket.close() for socket in sockets))
    return [json.loads(message) for message in first]


def test_sockets_opening_and_closing_together_share_one_group_member(server, namespace):
    account = AccountFactory(role=Role.ADMIN, default_namespace=namespace)
    flow = FlowFactory(namespace=namespace, created_by=account)
    execution = execution_create(flow=flow, created_by=account)  # stays QUEUED: the streams stay open
    members = redis.Redis.from_url(settings.REDIS_URL)
    group = f"asgi:group:{group_name(execution.pk)}".encode()
    url = f"{server.replace('http://', 'ws://')}/ws/executions/{execution.pk}?token={token_for(account)}"

    first = asyncio.run(_burst(url, members, group))

    assert [message["type"] for message in first] == ["execution_update"] * SOCKETS
    wait_until(lambda: members.zcard(group) == 0, 30, "the feed to leave the group")
