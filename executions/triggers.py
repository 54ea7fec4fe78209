"""Firing triggers: a webhook's request, a schedule's due time or an agent's message starts an
execution.

Trigger rows, their checks, keys and `next_fire_time` belong to flows (`flows.triggers`);
firing one starts a run, so it lives here, above flows, beside `execution_start`.

Any number of schedulers may run at once (one per worker machine); django-q2 runs
`fire_due_schedules` every minute. Each due trigger is *claimed* by a conditional update of
`next_fire_at` — from the value the scheduler read to the next cron time after now — so
exactly one scheduler wins a given fire time. A trigger that missed several runs (workers
down) starts what its `recoverMissedSchedules` says (LAST: the latest missed tick, once; ALL:
one per missed tick; NONE: none) and moves on to the future. A backfill starts one execution
per tick of a past range (`trigger_backfill`). The claim and the new execution
commit together; a flow that cannot start (its definition no longer compiles, inputs it
refuses) is logged and the claim stands, so it is retried at its next cron time rather than
every minute.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account
from accounts.roles import Role
from accounts.selectors import ensure_role
from accounts.services import audit_record
from core.errors import BadRequest, NotFound, ValidationFailed
from core.timefmt import isoformat
from executions.engine.compiler import compiled
from executions.models import Execution, Message
from executions.services import execution_start
from flows.models import Trigger
from flows.selectors import webhook_trigger_get
from flows.triggers import backfill_ticks, missed_ticks, next_fire_time

logger = logging.getLogger("millrace.scheduler")

#: How fresh a webhook's `last_fired_at` is kept: it moves at most once per this span.
FIRED_AT_RESOLUTION = timedelta(seconds=1)

CREDENTIAL_HEADER_WORDS = ("auth", "token", "key", "secret", "signature", "cookie", "password", "session")
"""A header whose lower-cased name contains one of these is dropped from `trigger.headers`."""


def shown_headers(headers: dict[str, str]) -> dict[str, str]:
    """The request headers a flow may see: credential-looking ones dropped.

    `trigger_data` is readable by every viewer of the namespace, so API keys, signatures,
    tokens, cookies and sessions (`X-Api-Key`, `X-Hub-Signature-256`, `X-Gitlab-Token`...)
    must not land there. A name match is deliberately broad: a harmless header lost costs
    less than a leaked credential.
    """
    return {
        name: value
        for name, value in headers.items()
        if not any(word in name.lower() for word in CREDENTIAL_HEADER_WORDS)
    }


def webhook_fire(*, key: str, body: Any, headers: dict[str, str]) -> Execution:
    """Start the flow of the enabled webhook trigger with this key; the key is the credential.

    The request body is `trigger.body` and its headers (minus credentials, see
    `shown_headers`) `trigger.headers`; the trigger's own `inputs` are the execution's inputs.
    """
    trigger = webhook_trigger_get(key=key)
    if trigger is None:
        raise NotFound("Unknown webhook.")
    execution = execution_start(
        actor=None,
        flow=trigger.flow,
        inputs=trigger.inputs,
        origin="webhook",
        trigger=trigger,
        trigger_data={"type": "webhook", "triggerId": str(trigger.pk), "body": body, "headers": shown_headers(headers)},
    )
    # After the start, in a statement of its own: a refused start did not fire the trigger, and
    # on SQLite the start's transaction holds the one writer lock for its own writes only.
    # To the second: writing it on every call made concurrent calls of one webhook wait for
    # each other's commit on the trigger's row lock; a row read this fresh is not written (a
    # statement would take SQLite's one writer lock even to change nothing).
    now = timezone.now()
    if trigger.last_fired_at is None or trigger.last_fired_at < now - FIRED_AT_RESOLUTION:
        Trigger.objects.filter(pk=trigger.pk).filter(
            Q(last_fired_at__isnull=True) | Q(last_fired_at__lt=now - FIRED_AT_RESOLUTION)
        ).update(last_fired_at=now)
    return execution


def agent_fire(*, trigger: Trigger, message: Message) -> Execution | None:
    """Start an `agent` trigger's flow for one message of its agent; None if it already did.

    The payload is `trigger.message`; its keys that name declared inputs are the inputs (over
    the trigger's own), the others are left out. A start one hop past
    `MILLRACE_SUBFLOW_MAX_DEPTH` (the message's depth plus one) is refused, as are inputs of
    the wrong type (ValidationFailed either way). `agents.flow_triggers` calls it after the
    message committed.
    """
    message_id = str(message.uuid)
    if Execution.objects.filter(trigger=trigger, trigger_data__messageId=message_id).exists():
        return None
    depth, limit = message.depth + 1, settings.MILLRACE_SUBFLOW_MAX_DEPTH
    if depth > limit:
        raise ValidationFailed(f"Nesting depth {depth} exceeds MILLRACE_SUBFLOW_MAX_DEPTH ({limit}).")
    try:
        declared = {item.id for item in compiled(trigger.flow.source).inputs}
    except Exception as exc:
        raise ValidationFailed(f"The flow definition does not compile: {exc}") from exc
    payload = message.payload if isinstance(message.payload, dict) else {}
    inputs = {**(trigger.inputs or {}), **{key: value for key, value in payload.items() if key in declared}}
    with transaction.atomic():
        Trigger.objects.filter(pk=trigger.pk).update(last_fired_at=timezone.now())
        return execution_start(
            actor=None,
            flow=trigger.flow,
            inputs=inputs,
            origin="agent",
            trigger=trigger,
            trigger_data={
                "type": "agent",
                "triggerId": str(trigger.pk),
                "agentId": str(message.agent_id),
                "messageId": message_id,
                "message": payload,
                "depth": depth,
            },
        )


def _arm_new(now: datetime) -> None:
    """Give enabled schedule triggers without a fire time (YAML-declared ones) their next one."""
    pending = Trigger.objects.filter(type=Trigger.Type.SCHEDULE, enabled=True, next_fire_at__isnull=True)
    for trigger in pending.only("pk", "cron", "timezone"):
        try:
            following = next_fire_time(trigger.cron, trigger.timezone, now)
        except Exception:
            logger.warning("Schedule trigger %s has an unusable cron %r", trigger.pk, trigger.cron, exc_info=True)
            continue
        Trigger.objects.filter(pk=trigger.pk, next_fire_at__isnull=True).update(next_fire_at=following)


def due_triggers(now: datetime) -> list[Trigger]:
    """Enabled schedule triggers whose fire time has come, as read now (claims may still fail)."""
    return list(
        Trigger.objects.select_related("flow__namespace")
        .filter(type=Trigger.Type.SCHEDULE, enabled=True, next_fire_at__lte=now)
        .order_by("next_fire_at", "pk")
    )


def _start_tick(trigger: Trigger, tick: datetime, now: datetime, *, actor=None, inputs=None, origin="schedule"):
    """Start `trigger`'s flow for cron time `tick` (`trigger.date` in templates)."""
    return execution_start(
        actor=actor,
        flow=trigger.flow,
        inputs=trigger.inputs if inputs is None else inputs,
        origin=origin,
        trigger=trigger,
        trigger_data={
            "type": "schedule",
            "triggerId": str(trigger.pk),
            "date": isoformat(tick),
            "firedAt": isoformat(now),
            **({"backfill": True} if origin == "backfill" else {}),
        },
    )


def _fire(trigger: Trigger, now: datetime) -> list[str] | None:
    """Claim `trigger`'s fire time and start its flow once per due tick its
    `recover_missed` keeps (`flows.triggers.missed_ticks`); None if another scheduler won."""
    scheduled_for = trigger.next_fire_at
    try:
        following = next_fire_time(trigger.cron, trigger.timezone, now)
        ticks = missed_ticks(trigger, now, following)
    except Exception:
        logger.warning("Schedule trigger %s has an unusable cron %r", trigger.pk, trigger.cron, exc_info=True)
        return None
    started: list[str] = []
    with transaction.atomic():
        claimed = Trigger.objects.filter(
            pk=trigger.pk, type=Trigger.Type.SCHEDULE, enabled=True, next_fire_at=scheduled_for
        ).update(next_fire_at=following, last_fired_at=now)
        if not claimed:
            return None
        for tick in ticks:
            try:
                with transaction.atomic():
                    started.append(str(_start_tick(trigger, tick, now).pk))
            except Exception:
                logger.warning(
                    "Schedule trigger %s could not start flow %s", trigger.pk, trigger.flow_id, exc_info=True
                )
                break  # the same refusal would meet every other tick
    return started


def fire_trigger(trigger: Trigger, now: datetime) -> str | None:
    """Claim `trigger`'s fire time and start its flow; the (last) execution id, or None if
    another scheduler won or nothing started."""
    started = _fire(trigger, now)
    return started[-1] if started else None


def fire_due_schedules(now: datetime | None = None) -> list[str]:
    """One scheduler tick: the ids of the executions it started."""
    now = now or timezone.now()
    _arm_new(now)
    started = []
    for trigger in due_triggers(now):
        started.extend(_fire(trigger, now) or [])
    return started


def trigger_backfill(
    *, actor: Account, trigger: Trigger, start: datetime, end: datetime, inputs: dict[str, Any] | None = None
) -> list[Execution]:
    """Start `trigger`'s flow once per cron tick in [start, end), oldest first (executor role).

    Each execution is started as a scheduled one would be (`trigger.date` is its tick), so the
    flow's concurrency limit applies at start. `inputs` are merged over the trigger's own.
    All start or none: one refused start (inputs the flow refuses) refuses the backfill.
    """
    if trigger.type != Trigger.Type.SCHEDULE:
        raise BadRequest(
            f"Only a schedule trigger can be backfilled; this one is a {trigger.type} trigger.",
            details={"field": "type", "reason": "not a schedule trigger"},
        )
    if inputs is not None and not isinstance(inputs, dict):
        raise BadRequest("inputs must be an object.", details={"field": "inputs", "reason": "not an object"})
    ensure_role(actor, trigger.flow.namespace, Role.EXECUTOR)
    ticks = backfill_ticks(trigger.cron, trigger.timezone, start, end)
    now = timezone.now()
    merged = {**(trigger.inputs or {}), **(inputs or {})}
    with transaction.atomic():
        executions = [_start_tick(trigger, tick, now, actor=actor, inputs=merged, origin="backfill") for tick in ticks]
        audit_record(
            actor=actor,
            action="trigger.backfill",
            resource_type="trigger",
            resource_id=trigger.pk,
            namespace=trigger.flow.namespace,
            summary={
                "flow": trigger.flow.name,
                "start": isoformat(start),
                "end": isoformat(end),
                "executions": len(executions),
            },
        )
    return executions
