"""How a server process hears that an execution moved, and how a request waits for its end.

A listener `follow`s the execution's group: the doorbell (`executions/engine/events.py`) rings
it after each transaction that wrote the execution's events. With Redis, each event loop of a
server process holds one subscription to the rings' pub/sub channel and hands each ring to the
listeners of its group, so that a waiting webhook or a WebSocket costs Redis nothing to start
or end. On the embedded default the channel layer lives in one process's memory and the
workers are other processes: their rings come by the bell (`core/bell.py`) to this process's
port, bound on the event loop of the first listener, and go to the listeners of their group.
Rings are hints: listeners read the database, the record, and read it now and then without a
ring too (a ring can be lost: a full buffer, Redis restarting).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from functools import partial
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels_redis.core import RedisChannelLayer
from django.db import connection

from core.bell import Listener
from executions.engine.events import group_name, parse_rings, peer_bell, ring_channel
from executions.engine.rows import execution_refresh
from executions.models import Execution

logger = logging.getLogger("millrace.ws")

#: Seconds between reads of a waited execution when rings reach this process: what a lost ring costs.
WAIT_READ_SECONDS = 1.0
#: The first and the longest pause between reads when rings from other processes cannot come.
DEAF_PAUSES = (0.05, 0.5)
#: Seconds a wait gives its group membership to start before it reads without it.
JOIN_SECONDS = 2.0
#: Seconds a wait keeps its pooled database connection before it gives it back between reads.
LEND_AFTER_SECONDS = 1.0
#: Seconds of silence on the rings' subscription after which it pings Redis; a second silent
#: spell means the connection is gone, and it subscribes again.
QUIET_SECONDS = 60.0
#: Seconds before a subscription or group membership that failed is tried again.
RETRY_SECONDS = 2.5

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
        for group, event_id, ended in parse_rings(data):
            for on_ring in list(self.groups.get(group, ())):
                on_ring(event_id, ended)


_port = _BellPort()
atexit.register(_port.close)


class _Subscription:
    """One event loop's subscription to the rings on Redis, and per group the listeners (each
    with what to call when the subscription (re)starts, since rings sent before went nowhere)."""

    def __init__(self, layer: RedisChannelLayer) -> None:
        self.layer = layer
        self.groups: dict[str, dict[Ring, Callable[[], None]]] = {}
        self.live = False
        self.pubsub: Any = None
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def follow(self, group: str, on_ring: Ring, on_joined: Callable[[], None]) -> None:
        listeners = self.groups.setdefault(group, {})
        listeners[on_ring] = on_joined
        try:
            if self.live:
                on_joined()
            await asyncio.Future()
        finally:
            listeners.pop(on_ring, None)
            if not listeners and self.groups.get(group) is listeners:
                del self.groups[group]

    async def _run(self) -> None:
        while True:
            pubsub = self.pubsub = self.layer.connection(0).pubsub()
            try:
                await pubsub.subscribe(ring_channel(self.layer))
                quiet = False
                while True:
                    message = await pubsub.get_message(timeout=QUIET_SECONDS)
                    if message is None:
                        if quiet:
                            raise ConnectionError(f"no answer to a ping within {QUIET_SECONDS:.0f} s")
                        quiet = True
                        await pubsub.ping()
                        continue
                    quiet = False
                    if message["type"] == "subscribe":
                        self._joined()
                    elif message["type"] == "message":
                        self._rings(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.warning("Execution rings from Redis are lost until it answers again: %s", error)
                self.live = False
                await asyncio.sleep(RETRY_SECONDS)
            finally:
                self.live = False
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _joined(self) -> None:
        self.live = True
        for listeners in list(self.groups.values()):
            for on_joined in list(listeners.values()):
                on_joined()

    def _rings(self, data: bytes) -> None:
        for group, event_id, ended in parse_rings(data):
            for on_ring in list(self.groups.get(group, ())):
                on_ring(event_id, ended)


_subscriptions: dict[asyncio.AbstractEventLoop, _Subscription] = {}


def _subscription(layer: RedisChannelLayer) -> _Subscription:
    """The running loop's subscription to `layer`'s rings, started on first use; it lives as long
    as the loop (a server's) or until the loop's end cancels it (`async_to_sync`'s own loops)."""
    loop = asyncio.get_running_loop()
    subscription = _subscriptions.get(loop)
    if subscription is None or subscription.layer is not layer or subscription.task.done():
        if subscription is not None:
            subscription.task.cancel()
        subscription = _subscriptions[loop] = _Subscription(layer)
        # forgotten when its loop's end cancels it (its task holds the loop, so a weak key would not go)
        subscription.task.add_done_callback(partial(_forget, loop, subscription))
    return subscription


def _forget(loop: asyncio.AbstractEventLoop, subscription: _Subscription, _task: asyncio.Task) -> None:
    if _subscriptions.get(loop) is subscription:
        del _subscriptions[loop]


def hearing() -> bool:
    """Whether rings from other processes reach this one (Redis, or this process's bell port)."""
    return not isinstance(get_channel_layer(), InMemoryChannelLayer) or _port.listener is not None


async def follow(group: str, on_ring: Ring, on_joined: Callable[[], None]) -> None:
    """Listen to `group` until cancelled: `on_ring` per ring, `on_joined` each time listening
    (re)starts, since rings sent before it went nowhere."""
    layer = get_channel_layer()
    if isinstance(layer, RedisChannelLayer):
        await _subscription(layer).follow(group, on_ring, on_joined)
        return
    _port.add(group, on_ring)
    try:
        if layer is None:
            on_joined()
            await asyncio.Future()  # rings come by the bell only
        else:
            await _member(layer, group, on_ring, on_joined)
    finally:
        _port.discard(group, on_ring)


async def _member(layer: InMemoryChannelLayer, group: str, on_ring: Ring, on_joined: Callable[[], None]) -> None:
    """Membership of the in-memory layer's group: the rings of this process's own workers."""
    channel = await layer.new_channel()
    try:
        while True:
            try:
                await layer.group_add(group, channel)
                on_joined()
                while True:
                    message = await layer.receive(channel)
                    on_ring(int(message.get("event_id") or 0), bool(message.get("ended")))
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.warning("%s is followed by reading only: %s", group, error)
                await asyncio.sleep(RETRY_SECONDS)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(layer.group_discard(group, channel))


#: The event loop serving the current request (set by the ASGI handler, `config/asgi.py`): a
#: wait started on the request's thread listens there.
serving_loop: ContextVar[asyncio.AbstractEventLoop | None] = ContextVar("serving_loop", default=None)


def execution_wait(execution: Execution, seconds: float, fields: Sequence[str] = ("status",)) -> Execution:
    """Refresh `fields` of `execution` until it has ended or `seconds` have passed, and return it.

    It reads when a ring says the execution ended, and every `WAIT_READ_SECONDS` besides; where
    rings from the workers cannot come, it reads after growing pauses (`DEAF_PAUSES`). Call it
    from a request's thread: the listener runs on the loop serving the request (on a loop of the
    wait's own outside a request), and the wait and the reads on this thread, with its database
    connection, without handing each read to the loop and back; after `LEND_AFTER_SECONDS` a
    pooled connection goes back to the pool between reads (`_lend_connection`).
    """
    begun = time.monotonic()
    deadline = begun + seconds
    ended, joined = threading.Event(), threading.Event()

    def on_ring(event_id: int, ends: bool) -> None:
        if ends:
            ended.set()

    with _following(group_name(execution.pk), on_ring, joined.set):
        joined.wait(min(JOIN_SECONDS, seconds))
        heard = joined.is_set() and hearing()
        pause = WAIT_READ_SECONDS if heard else DEAF_PAUSES[0]
        while True:
            ended.clear()
            execution_refresh(execution, fields)
            left = deadline - time.monotonic()
            if execution.is_terminal or left <= 0:
                return execution
            if time.monotonic() - begun >= LEND_AFTER_SECONDS:
                _lend_connection()
            ended.wait(min(pause, left))
            if not heard:
                pause = min(pause * 2, DEAF_PAUSES[1])


def _lend_connection() -> None:
    """Give a pooled connection back to its pool while a long wait sleeps; the next read borrows one.

    Held through waits of up to `MILLRACE_WEBHOOK_WAIT_SECONDS`, ten slow webhooks emptied the
    pool (10 by default) and every other request of the server process waited for it until
    the pool's timeout failed it. A short wait keeps its connection: given back at once, each
    wait's last read queued for the pool behind the starts of new requests, and at 100
    concurrent webhooks throughput halved (`docs/decisions.md`). Inside a transaction the
    connection stays, and so does a connection of its thread's own (SQLite's, or PostgreSQL's
    without a pool).
    """
    if getattr(connection, "pool", None) is not None and not connection.in_atomic_block:
        connection.close()


@contextlib.contextmanager
def _following(group: str, on_ring: Ring, on_joined: Callable[[], None]) -> Iterator[None]:
    """`follow` the group for the block: on the loop serving the request; outside a request (a
    command, a test) on a loop of the block's own, whose end closes what it opened (a Redis
    subscription) as `async_to_sync`'s loops do."""
    loop = serving_loop.get()
    if loop is not None:
        listener = asyncio.run_coroutine_threadsafe(follow(group, on_ring, on_joined), loop)
        try:
            yield
        finally:
            listener.cancel()
        return
    started = threading.Event()
    own: dict[str, Any] = {}

    async def listen() -> None:
        own["loop"], own["stop"] = asyncio.get_running_loop(), asyncio.Event()
        listener = asyncio.create_task(follow(group, on_ring, on_joined))
        started.set()
        await own["stop"].wait()
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener

    thread = threading.Thread(target=asyncio.run, args=(listen(),), name="millrace-listening", daemon=True)
    thread.start()
    started.wait()
    try:
        yield
    finally:
        own["loop"].call_soon_threadsafe(own["stop"].set)
        thread.join()
