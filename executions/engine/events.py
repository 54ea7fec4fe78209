"""Append execution events and ring the channel-layer doorbell once per transaction.

The database row is the record; the group message only tells listeners to read it.
"""

import logging
import threading
from typing import Any
from uuid import UUID

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
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
    event = ExecutionEvent.objects.create(
        execution_id=execution_id, task_run_id=task_run_id, type=type, level=level, message=message, data=data
    )
    _announce_on_commit(execution_id, event.id)
    return event


def events_bulk_append(events: list[ExecutionEvent]) -> None:
    """Insert several events at once (forEach fan-out) and announce the last of each execution."""
    created = ExecutionEvent.objects.bulk_create(events)
    for event in created:
        if event.id is None:  # backends without RETURNING: the listener reads from its cursor anyway
            continue
        _announce_on_commit(event.execution_id, event.id)
    if created and created[-1].id is None:
        _announce_on_commit(created[-1].execution_id, 0)


def _announce_on_commit(execution_id: UUID, event_id: int) -> None:
    pending: dict[UUID, int] | None = getattr(_pending, "events", None)
    if pending is None:
        pending = _pending.events = {}
    first = execution_id not in pending
    pending[execution_id] = event_id
    if first:
        transaction.on_commit(lambda: _announce(execution_id))


def _announce(execution_id: UUID) -> None:
    event_id = _pending.events.pop(execution_id, None)
    if event_id is None:
        return
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group_name(execution_id), {"type": "execution.event", "event_id": event_id})
    except Exception:  # a lost doorbell is caught up from the table; never fail the step for it
        logger.warning("Could not announce event %s of execution %s", event_id, execution_id, exc_info=True)
