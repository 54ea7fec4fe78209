"""Helpers for tests of the execution WebSockets through the real ASGI router."""

import json
from typing import Any
from unittest import mock

from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from config.asgi import application


def in_loop(coroutine_function) -> Any:
    """Run a test's async part; the test database connection must survive consumer DB calls."""
    with mock.patch("channels.db.close_old_connections", lambda: None):
        return async_to_sync(coroutine_function)()


async def read_all(comm: WebsocketCommunicator, timeout: float = 5) -> tuple[list[dict[str, Any]], int | None]:
    """Every message until the server closes; the close code."""
    messages = []
    while True:
        output = await comm.receive_output(timeout)
        if output["type"] == "websocket.close":
            await comm.disconnect()
            return messages, output.get("code")
        messages.append(json.loads(output["text"]))


def stream(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> tuple[list[dict[str, Any]], int | None]:
    """Every message a socket opened on `path` receives, and its close code."""

    async def run():
        comm = WebsocketCommunicator(application, path, headers=headers or [])
        connected, _ = await comm.connect(timeout=5)
        assert connected
        return await read_all(comm)

    return in_loop(run)
