"""The callback outbox: results owed to callers' callback URLs (connector proxy `millrace/RunFlow`).

When an execution started with a callback URL ends, the transaction that ends it writes a
`CallbackDelivery` row with the envelope and queues its delivery on commit. The row, not the
queue message, is the record: each delivery first moves `next_attempt_at` one
`MILLRACE_REDISPATCH_SECONDS` ahead, so a delivery lost with its queue message (Redis
restarted empty, a worker killed mid-PUT) comes due again and the sweeper queues it again; a
failure worth retrying sets the next attempt with back-off; a refusal or the last attempt
ends it FAILED. Delivery is at least once: a receiver may see a repeat after a crash
(spiff-arena's callback tokens are single-use, so it refuses the repeat).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from connectors.commands import CALLBACK_ATTEMPTS, callback_delay, envelope, flow_result, put_callback
from executions.engine import dispatch
from executions.models import CallbackDelivery, Execution

logger = logging.getLogger("millrace.engine")
BATCH = 200
TASK = "executions.engine.callbacks.deliver"
S = CallbackDelivery.State


def callback_owed(execution: Execution) -> None:
    """Record the envelope owed to the execution's callback URL and queue it; once per execution.

    Called when an execution ends, under its row lock. A retried execution does not call back
    again: the callback URL's token was single-use.
    """
    url = (execution.trigger_data or {}).get("spiffCallbackUrl")
    if not url or not execution.is_terminal:
        return
    body = envelope(flow_result(execution))
    lease = timezone.now() + timedelta(seconds=settings.MILLRACE_REDISPATCH_SECONDS)
    _, created = CallbackDelivery.objects.get_or_create(
        execution=execution, defaults={"url": url, "body": body, "next_attempt_at": lease}
    )
    if created:
        dispatch.on_commit(TASK, str(execution.pk))


def deliver(execution_id: str) -> bool:
    """One attempt (a django-q2 task): PUT the envelope, then record what came of it."""
    now = timezone.now()
    with transaction.atomic():
        owed = (
            CallbackDelivery.objects.select_for_update(skip_locked=True)
            .filter(execution_id=execution_id, state=S.PENDING)
            .first()
        )
        if owed is None:  # delivered, given up, or another worker is at it
            return False
        owed.attempts += 1
        owed.next_attempt_at = now + timedelta(seconds=settings.MILLRACE_REDISPATCH_SECONDS)
        owed.save(update_fields=["attempts", "next_attempt_at", "updated_at"])
    outcome = put_callback(owed.url, owed.body)
    changes: dict[str, Any] = {"last_error": outcome.reason}
    if outcome.delivered:
        changes.update(state=S.DELIVERED, next_attempt_at=None)
    elif outcome.final or owed.attempts >= CALLBACK_ATTEMPTS:
        changes.update(state=S.FAILED, next_attempt_at=None)
        logger.warning("Callback of execution %s failed for good (attempt %s): %s", execution_id, owed.attempts,
                       outcome.reason)  # fmt: skip
    else:
        changes["next_attempt_at"] = timezone.now() + timedelta(seconds=callback_delay(owed.attempts))
    CallbackDelivery.objects.filter(pk=owed.pk, state=S.PENDING, attempts=owed.attempts).update(
        updated_at=timezone.now(), **changes
    )
    return outcome.delivered


def queue_due_callbacks(now: datetime) -> int:
    """Pending callbacks whose next attempt is due (a back-off ended, or a lost delivery's lease
    lapsed) are queued again; each gets a fresh lease so it is not queued twice meanwhile."""
    lease = now + timedelta(seconds=settings.MILLRACE_REDISPATCH_SECONDS)
    due = CallbackDelivery.objects.filter(state=S.PENDING, next_attempt_at__lte=now)
    with transaction.atomic():
        ids = list(due.select_for_update(skip_locked=True).values_list("execution_id", flat=True)[:BATCH])
        if ids:
            CallbackDelivery.objects.filter(execution_id__in=ids).update(next_attempt_at=lease, updated_at=now)
            for execution_id in ids:
                dispatch.on_commit(TASK, str(execution_id))
    return len(ids)
