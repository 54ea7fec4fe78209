"""Append execution events and ring the doorbell once per transaction.

The database row is the record; a ring only tells listeners to read it. With Redis, rings
are published on one pub/sub channel (`ring_channel`) that each server process subscribes to
once (`executions/listening.py`); when the channel layer lives in one process's memory (the
embedded default, where workers are other processes than the server), they go to the
execution's group in this process and to the other processes of this machine by the bell
(`core/bell.py`). A ring says whether the transaction ended the execution, so that who waits
only for the end reads only then.
"""

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any
from uuid import UUID

import redis
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels_redis.core import RedisChannelLayer
from django.db import transaction
from redis.connection import parse_url

from core.bell import Bell, database_bell
from executions.engine.nulchars import row_without_nul
from executions.models import TERMINAL_EXECUTION_STATUSES, ExecutionEvent

logger = logging.getLogger("millrace.engine")

#: Seconds a doorbell send waits before the next one, merging the rings meanwhile.
SEND_INTERVAL = 0.05
#: Seconds a step waits at most for Redis to take the ring that ends its execution.
END_RING_TIMEOUT = 2.0

_pending = threading.local()


def group_name(execution_id: UUID | str) -> str:
    return f"execution-{execution_id}"


def event_append(
    *,
    execution_id: UUID,
    type: str,
    message: str = "",
    level: str = ExecutionEvent.Level.INFO,
    data: dict[str, Any] | None = None,
    task_run_id: UUID | None = None,
) -> ExecutionEvent:
    event = ExecutionEvent(
        execution_id=execution_id, task_run_id=task_run_id, type=type, level=level, message=message, data=data
    )
    batch: list[ExecutionEvent] | None = getattr(_pending, "batch", None)
    if batch is not None:
        batch.append(event)
        return event
    row_without_nul(event)  # a batched one is cleaned where its batch is written
    event.save(force_insert=True)
    announce_on_commit(execution_id, event.id, ended=ends_execution(event))
    return event


def ends_execution(event: ExecutionEvent) -> bool:
    """Whether the event records the execution's end (a retry may still undo it)."""
    return event.type == "execution_status" and (event.data or {}).get("status") in TERMINAL_EXECUTION_STATUSES


@contextmanager
def batched() -> Iterator[None]:
    """Collect the events appended inside the block and insert them in one statement at its end.

    Use inside the transaction that writes them; an exception discards the batch (the
    transaction rolls back anyway).
    """
    if getattr(_pending, "batch", None) is not None:
        yield
        return
    _pending.batch = []
    try:
        yield
        events, _pending.batch = _pending.batch, None
        if events:
            events_bulk_append(events)
    finally:
        _pending.batch = None
        _pending.ending = set()  # of a batch whose statement failed


def pending_batch() -> list[ExecutionEvent]:
    """The events appended so far in the open `batched()` block (empty outside one)."""
    return getattr(_pending, "batch", None) or []


def take_batch() -> list[ExecutionEvent]:
    """Hand the open batch's events to a caller that inserts them itself and announces them by
    id (`announce_on_commit`); the executions they end are remembered for that. The block stays
    open."""
    batch: list[ExecutionEvent] | None = getattr(_pending, "batch", None)
    if not batch:
        return []
    _pending.batch = []
    _pending.ending = {str(event.execution_id) for event in batch if ends_execution(event)}
    return batch


def events_append_many(events: list[ExecutionEvent]) -> None:
    """Append several events: into the open batch if there is one, else in one statement."""
    batch: list[ExecutionEvent] | None = getattr(_pending, "batch", None)
    if batch is not None:
        batch.extend(events)
    else:
        events_bulk_append(events)


def events_bulk_append(events: list[ExecutionEvent]) -> None:
    """Insert several events at once (forEach fan-out) and announce the last of each execution."""
    for event in events:
        row_without_nul(event)
    created = ExecutionEvent.objects.bulk_create(events)
    for event in created:
        # backends without RETURNING leave ids unset: 0 still rings, and listeners read from their cursor
        announce_on_commit(event.execution_id, event.id or 0, ended=ends_execution(event))


def announce_on_commit(execution_id: UUID, event_id: int, *, ended: bool = False) -> None:
    """Ring once per transaction and execution, with the last event id written in it and
    whether one of its events ended the execution (also when `take_batch` handed them out).

    A pending entry whose callback is no longer queued on the connection belongs to a
    transaction that rolled back: it is replaced, so later events are still announced.
    """
    ending: set[str] = getattr(_pending, "ending", None) or set()
    if ending:
        ended = ended or str(execution_id) in ending
        ending.discard(str(execution_id))
    pending: dict[UUID, tuple[int, object, bool]] | None = getattr(_pending, "events", None)
    if pending is None:
        pending = _pending.events = {}
    entry = pending.get(execution_id)
    connection = transaction.get_connection()
    if entry is not None and (
        not connection.in_atomic_block or not any(func is entry[1] for _, func, _ in connection.run_on_commit)
    ):
        entry = None
    if entry is None:

        def callback() -> None:
            _announce(execution_id)

        pending[execution_id] = (event_id, callback, ended)
        transaction.on_commit(callback)
    else:
        pending[execution_id] = (max(event_id, entry[0]), entry[1], ended or entry[2])


def _announce(execution_id: UUID) -> None:
    entry = _pending.events.pop(execution_id, None)
    if entry is not None:
        _doorbell.ring(group_name(execution_id), entry[0], ended=entry[2])


@lru_cache(maxsize=1)
def peer_bell() -> Bell | None:
    """The bell to the other processes of this database on this machine, when the channel layer
    cannot reach them (it lives in one process's memory); None with a layer that crosses
    processes (Redis) or a database only this process can open (in memory)."""
    if not isinstance(get_channel_layer(), InMemoryChannelLayer):
        return None
    return database_bell("executions")


def bell_message(group: str, event_id: int, ended: bool) -> bytes:
    return f"{group} {event_id} {int(ended)}".encode()


def parse_rings(data: bytes) -> list[tuple[str, int, bool]]:
    """The rings of a bell datagram or a pub/sub message (one per line); lines that are not
    rings are skipped, since anyone on this machine can send to a bell port."""
    rings = []
    for line in data.decode(errors="replace").splitlines():
        try:
            group, event_id, ended = line.split(" ")
            rings.append((group, int(event_id), ended == "1"))
        except ValueError:
            continue
    return rings


def ring_channel(layer: RedisChannelLayer) -> str:
    """The pub/sub channel of a Redis layer's rings, under the layer's prefix. Pub/sub ignores
    Redis's database numbers, so the name carries the layer's: deployments that share a Redis
    server by number hear only their own rings."""
    database = parse_url(layer.hosts[0]["address"]).get("db", 0)
    return f"{layer.prefix}:{database}:execution-rings"


class _Doorbell:
    """Sends rings from one background thread with a long-lived event loop.

    A step must not wait for Redis, and a fresh event loop per message would open a fresh
    Redis connection each time; one loop keeps the layer's pool warm. The first ring of a
    quiet spell goes out at once; rings that come while a send is in flight or within
    `SEND_INTERVAL` after it are merged into the next send (the latest event id per execution
    wins): listeners read from their own cursor, so one ring covers many events. A send is one
    PUBLISH of all its rings, whoever listens: under load one round trip per interval instead
    of one per transaction, and nothing for a server to join or leave per listener.

    A ring that ends an execution is published at once, by the thread that committed the end,
    on a plain Redis connection: a waiting webhook answers and a socket closes when the
    execution ends rather than up to one interval later (measured in `bench/README.md`), and it
    happens once per execution, so the merge still carries the steps' rings.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._due: dict[str, int] = {}  # the latest event id per group; an end is never merged
        self._sending: concurrent.futures.Future | None = None
        self._clients: dict[str, redis.Redis] = {}

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="millrace-doorbell", daemon=True).start()
                self._loop = loop
            return self._loop

    def ring(self, group: str, event_id: int, *, ended: bool = False) -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        if isinstance(layer, InMemoryChannelLayer):
            bell = peer_bell()
            if bell is not None:  # the servers of this machine, at once: a datagram costs microseconds
                bell.ring(bell_message(group, event_id, ended))
            # Listeners of this process: a group nobody joined is skipped, since a send runs an
            # event loop in another thread. The in-memory layer is loop-bound, so stay on ours.
            if not layer.groups.get(group):
                return
            try:
                async_to_sync(layer.group_send)(group, _message(event_id, ended))
            except Exception:
                logger.warning("Could not announce event %s", event_id, exc_info=True)
            return
        if ended:
            with self._lock:
                due_id = self._due.pop(group, 0)  # this ring covers what was due for it
            self._publish_now(layer, bell_message(group, max(event_id, due_id), True))
            return
        loop = self._ensure_loop()
        with self._lock:
            self._due[group] = max(event_id, self._due.get(group, 0))
            if self._sending is not None:
                return  # the sender in flight picks it up
            self._sending = asyncio.run_coroutine_threadsafe(self._send_due(layer), loop)

    def _publish_now(self, layer: RedisChannelLayer, ring: bytes) -> None:
        address = layer.hosts[0]["address"]
        client = self._clients.get(address)  # its pool opens new connections in a forked worker
        if client is None:
            client = self._clients[address] = redis.Redis.from_url(
                address, socket_timeout=END_RING_TIMEOUT, socket_connect_timeout=END_RING_TIMEOUT
            )
        try:
            client.publish(ring_channel(layer), ring)
        except redis.RedisError as exc:  # a lost ring is caught up from the table; never fail a step for it
            logger.warning("Could not announce an execution's end: %s", exc)

    async def _send_due(self, layer: RedisChannelLayer) -> None:
        try:
            while True:
                with self._lock:
                    due, self._due = self._due, {}
                    if not due:
                        self._sending = None
                        return
                rings = b"\n".join(bell_message(group, event_id, False) for group, event_id in due.items())
                try:
                    await layer.connection(0).publish(ring_channel(layer), rings)
                except Exception as exc:  # a lost ring is caught up from the table; never fail a step for it
                    logger.warning("Could not announce execution events: %s", exc)
                await asyncio.sleep(SEND_INTERVAL)
        except BaseException:
            with self._lock:
                self._sending = None
            raise

    def drain(self, timeout: float = 5) -> None:
        """Wait until the messages rung so far are sent (tests, shutdown)."""
        with self._lock:
            sending = self._sending
        if sending is not None:
            concurrent.futures.wait([sending], timeout=timeout)


def _message(event_id: int, ended: bool) -> dict[str, Any]:
    """The group message of a ring; `ended` only when true, so that other rings stay as they were."""
    message: dict[str, Any] = {"type": "execution.event", "event_id": event_id}
    if ended:
        message["ended"] = True
    return message


_doorbell = _Doorbell()
drain_doorbell = _doorbell.drain
