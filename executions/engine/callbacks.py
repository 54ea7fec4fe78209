"""The callback outbox: results owed to callers' callback URLs ("deliver this body to this URL").

A caller that asked for its result to be delivered stored the URL in the execution's
`trigger_data`, under a key its dialect registered with a renderer (`register_format`; the
connector proxy's `millrace/RunFlow` does, in the api app's `ready()`). When such an execution
ends, the transaction that ends it writes a `CallbackDelivery` row with the rendered body and
queues its delivery on commit. The row, not the queue message, is the record: each delivery
first moves `next_attempt_at` one `MILLRACE_REDISPATCH_SECONDS` ahead, so a delivery lost with
its queue message (Redis restarted empty, a worker killed mid-PUT) comes due again and the
sweeper queues it again; a failure worth retrying sets the next attempt with back-off; a
refusal or the last attempt ends it FAILED. Delivery is at least once: a receiver may see a
repeat after a crash (callback tokens are typically single-use, so it refuses the repeat).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from connectors import http
from executions.engine import dispatch
from executions.models import CallbackDelivery, Execution

logger = logging.getLogger("millrace.engine")
BATCH = 200
TASK = "executions.engine.callbacks.deliver"
S = CallbackDelivery.State
CALLBACK_ATTEMPTS = 8
FIRST_DELAY_SECONDS = 5.0
MAX_DELAY_SECONDS = 600.0
#: Outbound refusals of the URL itself: no later attempt can succeed.
_REFUSED = frozenset({"NETWORK_POLICY_ERROR", "INVALID_URL"})


@dataclass(frozen=True)
class CallbackFormat:
    """A dialect's callbacks: the trigger_data entry holding the URL, and the body it is owed."""

    url_key: str
    render: Callable[[Execution], dict[str, Any]]


_FORMATS: dict[str, CallbackFormat] = {}


def register_format(name: str, *, url_key: str, render: Callable[[Execution], dict[str, Any]]) -> None:
    """Register (or replace) the callback format `name`; dialects call it when Django starts."""
    _FORMATS[name] = CallbackFormat(url_key, render)


def without_callbacks(trigger_data: dict[str, Any]) -> dict[str, Any]:
    """`trigger_data` without the callback URLs of every format: a copy of an execution (a
    replay) owes its caller nothing."""
    keys = {owed.url_key for owed in _FORMATS.values()}
    return {key: value for key, value in trigger_data.items() if key not in keys}


def _owed_to(execution: Execution) -> tuple[str, CallbackFormat] | None:
    data = execution.trigger_data or {}
    for owed in _FORMATS.values():
        url = data.get(owed.url_key)
        if url:
            return url, owed
    return None


def callback_owed(execution: Execution) -> None:
    """Record the body owed to the execution's callback URL and queue it; once per execution.

    Called when an execution ends, under its row lock. A retried execution does not call back
    again: the callback URL's token was single-use.
    """
    found = _owed_to(execution)
    if found is None or not execution.is_terminal:
        return
    url, owed = found
    body = owed.render(execution)
    lease = timezone.now() + timedelta(seconds=settings.MILLRACE_REDISPATCH_SECONDS)
    _, created = CallbackDelivery.objects.get_or_create(
        execution=execution, defaults={"url": url, "body": body, "next_attempt_at": lease}
    )
    if created:
        dispatch.on_commit(TASK, str(execution.pk))


def deliver(execution_id: str) -> bool:
    """One attempt (a django-q2 task): PUT the body, then record what came of it."""
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


@dataclass(frozen=True)
class CallbackOutcome:
    """What one PUT to a callback URL came to: `final` failures are not worth another attempt."""

    delivered: bool
    final: bool = False
    reason: str = ""


def put_callback(url: str, body: dict[str, Any]) -> CallbackOutcome:
    """PUT `body` as JSON to a callback URL through the outbound client (network policy included).

    Refusals (4xx other than 408/429, a URL the network policy refuses) are final. Logs name the
    host only: the callback URL's path is its credential.
    """
    host = http.display_host(url)
    try:
        response = http.request("PUT", url, json=body, headers={"Content-Type": "application/json"})
    except http.OutboundError as error:
        outcome = CallbackOutcome(False, error.code in _REFUSED, str(error))
    else:
        if response.status_code < 300:
            return CallbackOutcome(True)
        final = 400 <= response.status_code < 500 and response.status_code not in (408, 429)
        outcome = CallbackOutcome(False, final, f"status {response.status_code}")
    logger.info("Callback to %s failed: %s", host, outcome.reason)
    return outcome


def callback_delay(attempt: int) -> float:
    """Seconds before the attempt after `attempt`: 5 s, doubling, at most 10 minutes."""
    return min(FIRST_DELAY_SECONDS * 2 ** (attempt - 1), MAX_DELAY_SECONDS)
