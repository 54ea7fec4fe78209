"""Writes on triggers created through the API; firing them is `executions.triggers`.

Triggers declared in a flow's YAML are owned by the definition (`flows.services` syncs them
on every save), so the API refuses to change or delete those: the next save would undo it.
Schedule triggers keep `next_fire_at`, the claim the scheduler updates conditionally
(see `executions.triggers`); it is recomputed from *now* whenever the schedule changes or the
trigger is enabled again, so a trigger never fires for time it spent disabled. A flow trigger
watches a flow and an agent trigger an agent of the trigger's own namespace (an agent elsewhere
answers like a missing one: 404).
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Account
from accounts.roles import Role
from accounts.selectors import ensure_role
from accounts.services import audit_record
from core.errors import BadRequest, Conflict, NotFound, ValidationFailed
from core.ids import parse_uuid
from flows.definitions.fields import RECOVER_MISSED
from flows.models import EXECUTION_END_STATUSES, Agent, Flow, Trigger
from flows.selectors import flow_get
from flows.webhook_keys import KEY_REFUSED, new_webhook_key, strong_key

TRIGGER_FIELDS = (
    "enabled",
    "inputs",
    "key",
    "cron",
    "timezone",
    "recover_missed",
    "source_flow_id",
    "statuses",
    "source_agent_id",
    "name",
)
#: A tick started later than this after its time was missed (`recoverMissedSchedules: NONE`
#: skips it); the scheduler runs every minute, so an on-time tick is at most about a minute late.
MISSED_GRACE = timedelta(minutes=5)
#: At most this many executions from one backfill, or from one recovery of missed ticks (ALL).
MAX_TICKS = 1000


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", details=[{"field": field, "reason": message}])


def next_fire_time(cron: str, zone: str, after: datetime) -> datetime:
    """The first time strictly after `after` that `cron` names, read in timezone `zone` (UTC result)."""
    local = after.astimezone(zoneinfo.ZoneInfo(zone or "UTC"))
    return croniter(cron, local).get_next(datetime).astimezone(UTC)


def ticks_before(cron: str, zone: str, end: datetime, since: datetime, limit: int) -> list[datetime]:
    """The times `cron` names in [since, end), newest first, at most `limit` of them (UTC).

    Walking back from `end` bounds the work by `limit` however long the range is.
    """
    walker = croniter(cron, end.astimezone(zoneinfo.ZoneInfo(zone or "UTC")))
    found: list[datetime] = []
    while len(found) < limit:
        tick = walker.get_prev(datetime).astimezone(UTC)
        if tick < since:
            break
        if tick < end:  # croniter's walk back from a time between whole seconds may start at it
            found.append(tick)
    return found


def backfill_ticks(cron: str, zone: str, start: datetime, end: datetime) -> list[datetime]:
    """The ticks of a backfill over [start, end), oldest first; refused past `MAX_TICKS`."""
    if end <= start:
        raise BadRequest("end must be after start.", details={"field": "end", "reason": "not after start"})
    ticks = ticks_before(cron, zone, end, start, MAX_TICKS + 1)
    if len(ticks) > MAX_TICKS:
        raise BadRequest(
            f"The range holds more than {MAX_TICKS} ticks of '{cron}' (at most {MAX_TICKS} executions a backfill).",
            details={"field": "end", "reason": f"more than {MAX_TICKS} ticks"},
        )
    return ticks[::-1]


def missed_ticks(trigger: Trigger, now: datetime, following: datetime) -> list[datetime]:
    """The ticks of `trigger` due at `now` (from its claimed `next_fire_at` on) to start, oldest first.

    LAST starts the latest due tick (one execution, as before), ALL every due tick (the latest
    `MAX_TICKS`), NONE only a tick that is not late by more than `MISSED_GRACE` (one missed while
    no worker ran is skipped).
    """
    limit = MAX_TICKS if trigger.recover_missed == "ALL" else 1
    due = ticks_before(trigger.cron, trigger.timezone, following, trigger.next_fire_at, limit)
    if not due:  # the claimed time is no tick of the cron (changed since): fire it as before
        due = [trigger.next_fire_at]
    if trigger.recover_missed == "ALL":
        return due[::-1]
    if trigger.recover_missed == "NONE":
        return [due[0]] if now - due[0] <= MISSED_GRACE else []
    return [due[0]]


def _check_schedule(cron: Any, zone: Any) -> None:
    if not isinstance(cron, str) or not croniter.is_valid(cron):
        raise _invalid("cron", f"invalid cron expression {cron!r}")
    try:
        if not isinstance(zone, str) or not zone:
            raise ValueError
        zoneinfo.ZoneInfo(zone)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError) as exc:
        raise _invalid("timezone", f"unknown timezone {zone!r}") from exc


def _check_values(actor: Account, flow: Flow, values: dict[str, Any], kept_key: str | None = None) -> dict[str, Any]:
    """Check the fields of a trigger of `values["type"]`; fields of other types are cleared.

    A webhook without a key gets a generated one; a chosen key must be strong (`flows.webhook_keys`),
    except `kept_key`, the key the trigger already has.
    """
    kind = values["type"]
    if kind not in Trigger.Type.values:
        raise _invalid("type", f"one of {', '.join(Trigger.Type.values)}")
    if not isinstance(values.get("inputs") or {}, dict):
        raise _invalid("inputs", "must be an object")
    values["inputs"] = values.get("inputs") or {}
    if kind == Trigger.Type.WEBHOOK:
        key = values.get("key") or new_webhook_key()
        if key != kept_key and not strong_key(key):
            raise _invalid("key", KEY_REFUSED)
        values["key"] = key
    else:
        values["key"] = None
    if kind == Trigger.Type.SCHEDULE:
        values["timezone"] = values.get("timezone") or "UTC"
        _check_schedule(values.get("cron"), values["timezone"])
        recover = values.get("recover_missed") or "LAST"
        if recover not in RECOVER_MISSED:
            raise _invalid("recoverMissedSchedules", f"one of {', '.join(RECOVER_MISSED)}")
        values["recover_missed"] = recover
    else:
        values["cron"], values["timezone"], values["recover_missed"] = "", "UTC", "LAST"
    if kind == Trigger.Type.FLOW:
        source_id = values.get("source_flow_id")
        if not source_id:
            raise _invalid("sourceFlowId", "required for a flow trigger")
        source = flow_get(account=actor, flow_id=source_id)  # 404 outside the caller's namespaces
        if source.namespace_id != flow.namespace_id:
            raise _invalid("sourceFlowId", f"flow triggers watch flows of namespace '{flow.namespace.name}' only")
        if source.pk == flow.pk:  # it would start itself each time it ends
            raise _invalid("sourceFlowId", "a flow trigger cannot watch its own flow")
        statuses = values.get("statuses") or []
        if not isinstance(statuses, list) or any(s not in EXECUTION_END_STATUSES for s in statuses):
            raise _invalid("statuses", f"a list of {', '.join(sorted(EXECUTION_END_STATUSES))}")
        values["source_flow_id"], values["statuses"] = source.pk, statuses
    else:
        values["source_flow_id"], values["statuses"] = None, []
    if kind == Trigger.Type.AGENT:
        agent_id = values.get("source_agent_id")
        if not agent_id:
            raise _invalid("agentId", "required for an agent trigger")
        values["source_agent_id"] = _agent_of(flow, agent_id).pk
    else:
        values["source_agent_id"] = None
    return values


def _agent_of(flow: Flow, agent_id: Any) -> Agent:
    """The agent of the flow's namespace; 404 for any other (missing or elsewhere alike)."""
    agent = Agent.objects.filter(namespace_id=flow.namespace_id, pk=parse_uuid(agent_id, what="Agent")).first()
    if agent is None:
        raise NotFound("Agent not found.")
    return agent


def _schedule_next(trigger: Trigger, now: datetime) -> None:
    scheduled = trigger.type == Trigger.Type.SCHEDULE and trigger.enabled
    trigger.next_fire_at = next_fire_time(trigger.cron, trigger.timezone, now) if scheduled else None


def _save(trigger: Trigger) -> None:
    try:
        with transaction.atomic():
            trigger.save()
    except IntegrityError as exc:  # the key only: answered as any refused key, so it tells nothing
        raise _invalid("key", KEY_REFUSED) from exc


def _summary(trigger: Trigger) -> dict[str, Any]:
    return {"flow": trigger.flow.name, "type": trigger.type, "enabled": trigger.enabled}


@transaction.atomic
def trigger_create(*, actor: Account, flow: Flow, type: str, **fields: Any) -> Trigger:
    """Create a trigger of `flow` (editor); a webhook without a key gets an unguessable one."""
    ensure_role(actor, flow.namespace, Role.EDITOR)
    values = _check_values(actor, flow, {"type": type, **{k: v for k, v in fields.items() if k in TRIGGER_FIELDS}})
    trigger = Trigger(flow=flow, **values)
    _schedule_next(trigger, timezone.now())
    _save(trigger)
    audit_record(
        actor=actor,
        action="trigger.create",
        resource_type="trigger",
        resource_id=trigger.pk,
        namespace=flow.namespace,
        summary=_summary(trigger),
    )
    return trigger


def trigger_validate(*, actor: Account, flow: Flow, type: str, trigger: Trigger | None = None, **fields: Any) -> None:
    """Raise what `trigger_create` (or `trigger_update` of `trigger`) would, writing nothing.

    The console checks a form with it, so a refused value is a form error rather than a
    failure after the form was accepted.
    """
    ensure_role(actor, flow.namespace, Role.EDITOR)
    if trigger is not None:
        _owned_by_api(trigger)
    values = {"type": type, **{k: v for k, v in fields.items() if k in TRIGGER_FIELDS}}
    _check_values(actor, flow, values, kept_key=trigger.key if trigger is not None else None)


def _owned_by_api(trigger: Trigger) -> None:
    if trigger.from_definition:
        raise Conflict(f"Trigger '{trigger.name}' is declared in the flow's YAML; change the flow instead.")


@transaction.atomic
def trigger_update(*, actor: Account, trigger: Trigger, **changes: Any) -> Trigger:
    """Change a trigger (editor). Omitted fields keep their values; `type` may change."""
    ensure_role(actor, trigger.flow.namespace, Role.EDITOR)
    _owned_by_api(trigger)
    trigger = Trigger.objects.select_for_update().select_related("flow__namespace").get(pk=trigger.pk)
    current = {name: getattr(trigger, name) for name in TRIGGER_FIELDS}
    current["type"] = trigger.type
    wanted = {**current, **{k: v for k, v in changes.items() if k in (*TRIGGER_FIELDS, "type")}}
    if wanted["type"] != trigger.type and "key" not in changes:
        wanted["key"] = None  # a new webhook gets a fresh key
    values = _check_values(actor, trigger.flow, wanted, kept_key=trigger.key)
    reschedule = any(values[k] != current[k] for k in ("type", "cron", "timezone", "enabled"))
    for name, value in values.items():
        setattr(trigger, name, value)
    if reschedule or trigger.next_fire_at is None:
        _schedule_next(trigger, timezone.now())
    _save(trigger)
    audit_record(
        actor=actor,
        action="trigger.update",
        resource_type="trigger",
        resource_id=trigger.pk,
        namespace=trigger.flow.namespace,
        summary={**_summary(trigger), "changed": sorted(k for k in values if values[k] != current.get(k))},
    )
    return trigger


@transaction.atomic
def trigger_delete(*, actor: Account, trigger: Trigger) -> None:
    ensure_role(actor, trigger.flow.namespace, Role.EDITOR)
    _owned_by_api(trigger)
    audit_record(
        actor=actor,
        action="trigger.delete",
        resource_type="trigger",
        resource_id=trigger.pk,
        namespace=trigger.flow.namespace,
        summary=_summary(trigger),
    )
    trigger.delete()
