"""Append execution events and ring the channel-layer doorbell once per transaction.

The database row is the record; the group message only tells listeners to read it.
"""

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

from executions.models import ExecutionEvent

logger = logging.getLogger("millrace.engine")

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
    event.save(force_insert=True)
    _announce_on_commit(execution_id, event.id)
    return event


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


def events_append_many(events: list[ExecutionEvent]) -> None:
    """Append several events: into the open batch if there is one, else in one statement."""
    batch: list[ExecutionEvent] | None = getattr(_pending, "batch", None)
    if batch is not None:
        batch.extend(events)
    else:
        events_bulk_append(events)


def events_bulk_append(events: list[ExecutionEvent]) -> None:
    """Insert several events at once (forEach fan-out) and announce the last of each execution."""
    created = ExecutionEvent.objects.bulk_create(events)
    for event in created:
        # backends without RETURNING leave ids unset: 0 still rings, and listeners read from their cursor
        _announce_on_commit(event.execution_id, event.id or 0)


def _announce_on_commit(execution_id: UUID, event_id: int) -> None:
    """Ring once per transaction and execution, with the last event id written in it.

    A pending entry whose callback is no longer queued on the connection belongs to a
    transaction that rolled back: it is replaced, so later events are still announced.
    """
    pending: dict[UUID, tuple[int, object]] | None = getattr(_pending, "events", None)
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

        pending[execution_id] = (event_id, callback)
        transaction.on_commit(callback)
    else:
        pending[execution_id] = (max(event_id, entry[0]), entry[1])


def _announce(execution_id: UUID) -> None:
    entry = _pending.events.pop(execution_id, None)
    if entry is not None:
        _doorbell.ring(group_name(execution_id), entry[0])


class _Doorbell:
    """Sends group messages from one background thread with a long-lived event loop.

    A step must not wait for the channel layer, and a fresh event loop per message would
    open a fresh Redis connection each time; one loop keeps channels-redis's pool warm.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="millrace-doorbell", daemon=True).start()
                self._loop = loop
            return self._loop

    def ring(self, group: str, event_id: int) -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        if isinstance(layer, InMemoryChannelLayer):
            # Listeners live in this process only; the in-memory layer is loop-bound, so stay on ours.
            try:
                async_to_sync(layer.group_send)(group, {"type": "execution.event", "event_id": event_id})
            except Exception:
                logger.warning("Could not announce event %s", event_id, exc_info=True)
            return
        future = asyncio.run_coroutine_threadsafe(
            layer.group_send(group, {"type": "execution.event", "event_id": event_id}), self._ensure_loop()
        )
        future.add_done_callback(_log_failure)
        self._last = future

    def drain(self, timeout: float = 5) -> None:
        """Wait until the messages rung so far are sent (tests, shutdown)."""
        last = getattr(self, "_last", None)
        if last is not None:
            concurrent.futures.wait([last], timeout=timeout)


def _log_failure(future: "asyncio.Future[None]") -> None:
    # a lost doorbell is caught up from the table; never fail a step for it
    if not future.cancelled() and future.exception() is not None:
        logger.warning("Could not announce an execution event: %s", future.exception())


_doorbell = _Doorbell()
drain_doorbell = _doorbell.drain
