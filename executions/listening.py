"""How a server process hears that an execution moved, and how a request waits for its end.

A listener is a member of the execution's channel-layer group (`follow`): the doorbell
(`executions/engine/events.py`) sends the group a message after each transaction that wrote
the execution's events. On the embedded default that layer lives in one process's memory and
the workers are other processes: their rings come by the bell (`core/bell.py`) to this
process's port, bound on the event loop of the first listener, and go to the listeners of
their group. Rings are hints: listeners read the database, the record, and read it now and
then without a ring too (a ring can be lost: a full buffer, Redis restarting).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer

from core.bell import Listener
from executions.engine.events import group_name, peer_bell
from executions.models import Execution

logger = logging.getLogger("millrace.ws")

#: Seconds between reads of a waited execution when rings reach this process: what a lost ring costs.
WAIT_READ_SECONDS = 1.0
#: The first and the longest pause between reads when rings from other processes cannot come.
DEAF_PAUSES = (0.05, 0.5)
#: Seconds a wait gives its group membership to start before it reads without it.
JOIN_SECONDS = 2.0

Ring = Callable[[int, bool], None]  # (event id, whether the ring's transaction ended the execution)


class _BellPort:
    """This process's port on the bell and, per group, the listeners its rings go to."""

    def __init__(self) -> None:
        self.listener: Listener | None = None
        self.groups: dict[str, set[Ring]] = {}

    def add(self, group: str, on_ring: Ring) -> bool:
        """Hear `group`'s rings from the other processes; False when no bell reaches this one."""
        bell = peer_bell()
        if bell is None:
            return False
        loop = asyncio.get_running_loop()
        if self.listener is None or self.listener.loop is not loop:
            self.close()  # bound on a loop that is gone (tests run one per test)
            try:
                self.listener = Listener(bell.directory, loop, self._message)
            except OSError as error:
                logger.warning("No bell for this process (%s): listeners read the database every so often", error)
                return False
        self.groups.setdefault(group, set()).add(on_ring)
        return True

    def discard(self, group: str, on_ring: Ring) -> None:
        listeners = self.groups.get(group)
        if listeners is not None:
            listeners.discard(on_ring)
            if not listeners:
                del self.groups[group]

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None

    def _message(self, data: bytes) -> None:
        try:
            group, event_id, ended = data.decode().split(" ")
            ring = (int(event_id), ended == "1")
        except ValueError:  # not one of ours: anyone on this machine can send to the port
            return
        for on_ring in list(self.groups.get(group, ())):
            on_ring(*ring)


_port = _BellPort()
atexit.register(_port.close)


def hearing() -> bool:
    """Whether rings from other processes reach this one (Redis, or this process's bell port)."""
    return not isinstance(get_channel_layer(), InMemoryChannelLayer) or _port.listener is not None


async def follow(
    group: str,
    on_ring: Ring,
    on_joined: Callable[[], None],
    *,
    renew_seconds: float = 300.0,
    retry_seconds: float = 5.0,
) -> None:
    """Listen to `group` until cancelled: `on_ring` per ring, `on_joined` each time the group
    membership (re)starts, since rings sent before it went nowhere. The membership is renewed
    every `renew_seconds` (it may have expired, or Redis restarted) and retried after a failure."""
    layer = get_channel_layer()
    _port.add(group, on_ring)
    try:
        if layer is None:
            on_joined()
            await asyncio.Future()  # rings come by the bell only
        else:
            await _member(layer, group, on_ring, on_joined, renew_seconds, retry_seconds)
    finally:
        _port.discard(group, on_ring)


async def _member(
    layer: Any, group: str, on_ring: Ring, on_joined: Callable[[], None], renew_seconds: float, retry_seconds: float
) -> None:
    loop = asyncio.get_running_loop()
    channel = await layer.new_channel()
    try:
        while True:
            try:
                await layer.group_add(group, channel)
                on_joined()
                renew = loop.time() + renew_seconds
                while (left := renew - loop.time()) > 0:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(left):
                            message = await layer.receive(channel)
                        on_ring(int(message.get("event_id") or 0), bool(message.get("ended")))
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.warning("%s is followed by reading only: %s", group, error)
                await asyncio.sleep(retry_seconds)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(layer.group_discard(group, channel))


def execution_wait(execution: Execution, seconds: float, fields: Sequence[str] = ("status",)) -> Execution:
    """Refresh `fields` of `execution` until it has ended or `seconds` have passed, and return it.

    It reads when a ring says the execution ended, and every `WAIT_READ_SECONDS` besides; where
    rings from the workers cannot come, it reads after growing pauses (`DEAF_PAUSES`). Call it
    from a request's thread: the wait runs on the server's event loop, and the reads on this
    thread, with its database connection.
    """
    async_to_sync(_until_ended)(execution, seconds, tuple(fields))
    return execution


async def _until_ended(execution: Execution, seconds: float, fields: tuple[str, ...]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    ended, joined = asyncio.Event(), asyncio.Event()

    def on_ring(event_id: int, ends: bool) -> None:
        if ends:
            ended.set()

    listener = loop.create_task(follow(group_name(execution.pk), on_ring, joined.set))
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(min(JOIN_SECONDS, seconds)):
                await joined.wait()
        heard = joined.is_set() and hearing()
        pause = WAIT_READ_SECONDS if heard else DEAF_PAUSES[0]
        refresh = sync_to_async(execution.refresh_from_db)
        while True:
            ended.clear()
            await refresh(fields=list(fields))
            left = deadline - loop.time()
            if execution.is_terminal or left <= 0:
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(pause, left)):
                    await ended.wait()
            if not heard:
                pause = min(pause * 2, DEAF_PAUSES[1])
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
