"""Running agents: the every-minute tick, runs, message emission, delivery and expiry.

Delivery is per receiver: `deliver(receiver_id)` takes the receiver's row lock and its links'
locks, picks the oldest message past any link's `cursor`, runs the receiver on it and moves
that cursor with a conditional update, all in one transaction with what the run emitted and
its memory. Each receiver therefore sees each message once (a crashed run rolls back whole
and is retried) and, per source, in id order. Emission locks the emitting agent's row until
commit, so a source's message ids commit in order and no cursor can pass an uncommitted one.

`Agent.messages_count` counts the agent's stored messages: emission adds what it stores and the
purge subtracts what it deleted, each under the agent's row lock in the transaction that
writes the messages, so the counter is exact whatever commits or rolls back.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from agents import schedules
from agents.context import AgentContext, AgentResolver
from agents.types import AgentError, AgentRun, agent_type
from core.metrics import engine_metrics
from executions.engine import dispatch
from executions.engine.templating import TemplateRenderer, TemplateRenderError
from executions.models import AgentLog, Message
from flows.models import Agent, AgentLink, Trigger
from vault.masking import Masker

logger = logging.getLogger("millrace.agents")
DELIVER_BATCH = 100  # messages one delivery task handles before it hands on to a fresh task
MAX_ERROR_CHARS = 2000


def _now(now: datetime | str | None) -> datetime:
    if isinstance(now, str):
        parsed = parse_datetime(now)
        if parsed is None:
            raise ValueError(f"not a datetime: {now!r}")
        return parsed
    return now or timezone.now()


# --- schedules ----------------------------------------------------------------------------


def tick(now: datetime | str | None = None) -> int:
    """The one django-q2 schedule (every minute): claim the agents that are due and run each.

    Claiming is a conditional update of `last_run_at`, so two ticks never run one agent twice.
    Returns the number of agents started.
    """
    now = _now(now)
    started = 0
    candidates = Agent.objects.filter(disabled=False).exclude(schedule__in=["", schedules.NEVER])
    for agent_id, type_name, schedule, last_run_at in candidates.values_list("id", "type", "schedule", "last_run_at"):
        try:
            if not agent_type(type_name).schedulable:
                continue
        except LookupError:
            continue
        if not schedules.is_due(schedule, last_run_at, now):
            continue
        if Agent.objects.filter(pk=agent_id, last_run_at=last_run_at).update(last_run_at=now):
            dispatch.on_commit("agents.runtime.run_agent", str(agent_id), now.isoformat())
            started += 1
    return started


def purge_expired(now: datetime | str | None = None) -> int:
    """The periodic job removing messages past their `expires_at`; returns how many it removed.

    Agent by agent, so each agent's `messages_count` moves with its deletion.
    """
    moment = _now(now)
    expired = Message.objects.filter(expires_at__lte=moment).order_by()
    agent_ids = list(expired.values_list("agent_id", flat=True).distinct())
    return sum(_purge_agent(agent_id, moment) for agent_id in agent_ids)


def _purge_agent(agent_id: Any, moment: datetime) -> int:
    """Delete one agent's expired messages under its row lock and take them off its counter.

    A concurrent purge waits for the lock, then finds nothing left: it subtracts the rows it
    actually deleted, none.
    """
    with transaction.atomic():
        agent = Agent.objects.select_for_update(of=("self",)).filter(pk=agent_id).values_list("pk", flat=True).first()
        if agent is None:  # deleted meanwhile, its messages with it
            return 0
        _, per_model = Message.objects.filter(agent_id=agent_id, expires_at__lte=moment).delete()
        deleted = per_model.get(Message._meta.label, 0)
        if deleted:
            Agent.objects.filter(pk=agent_id).update(messages_count=F("messages_count") - deleted)
        return deleted


# --- runs ---------------------------------------------------------------------------------


def run_agent(agent_id: str, now: str | None = None, manual: bool = False) -> None:
    """A scheduled (or, `manual`, an operator's) run of one agent."""
    moment = _now(now)
    with transaction.atomic():
        agent = Agent.objects.select_for_update(of=("self",)).filter(pk=agent_id).select_related("namespace").first()
        if agent is None or (agent.disabled and not manual):
            return
        _execute(agent, None, moment)


def deliver(receiver_id: str) -> None:
    """Hand a receiver every message its sources emitted since its cursors, oldest first."""
    for _ in range(DELIVER_BATCH):
        if not _deliver_one(receiver_id):
            return
    dispatch.on_commit("agents.runtime.deliver", str(receiver_id))


def _deliver_one(receiver_id: str) -> bool:
    """Deliver the next message; False when there was none (or the receiver is gone or disabled)."""
    with transaction.atomic():
        receiver = (
            Agent.objects.select_for_update(of=("self",)).filter(pk=receiver_id).select_related("namespace").first()
        )
        if receiver is None or receiver.disabled:
            return False
        links = {link.source_id: link for link in AgentLink.objects.select_for_update().filter(receiver=receiver)}
        if not links:
            return False
        pending = Q()
        for link in links.values():
            pending |= Q(agent_id=link.source_id, id__gt=link.cursor)
        message = Message.objects.filter(pending).order_by("id").first()
        if message is None:
            return False
        link = links[message.agent_id]
        now = timezone.now()
        try:
            receives = agent_type(receiver.type).receives
        except LookupError:
            receives = False
        if receives and (message.expires_at is None or message.expires_at > now):
            _execute(receiver, message, now)
        moved = AgentLink.objects.filter(pk=link.pk, cursor=link.cursor).update(cursor=message.id)
        if not moved:  # cannot happen under the row lock; refuse to deliver twice if it ever does
            raise RuntimeError(f"cursor of link {link.pk} moved under its lock")
        return True


def render_options(agent: Agent, payload: dict[str, Any] | None, ctx: AgentContext) -> dict[str, Any]:
    """The agent's options rendered with `message` (the incoming payload) and `agent` in the context."""
    context = {"message": payload, "agent": {"id": str(agent.pk), "name": agent.name, "memory": agent.memory}}
    renderer = TemplateRenderer(context, AgentResolver(agent))
    try:
        rendered = renderer.render(agent.options or {})
    finally:
        ctx.used_secrets |= renderer.used_secrets
    return rendered


def _execute(agent: Agent, message: Message | None, now: datetime) -> list[Message]:
    """Run the agent once (inside the caller's transaction) and record the outcome on it.

    The handler runs in a savepoint: a failure keeps nothing it emitted, stores `last_error`
    and lets delivery move on. Secret values the run used are masked in what it emits and
    logs, as in a flow step's outputs: messages and logs are readable by every viewer.
    """
    ctx = AgentContext(agent)
    run = AgentRun(agent=agent, ctx=ctx, memory=dict(agent.memory or {}))
    if message is not None:
        run.message_id, run.depth = str(message.uuid), message.depth
    emitted: list[Message] = []
    failure = ""
    try:
        with transaction.atomic():
            handler = agent_type(agent.type)
            options = render_options(agent, message.payload if message else None, ctx)
            if message is None:
                handler.check(run, options)
            else:
                handler.receive(run, options, message.payload or {})
            emitted = emit(agent, Masker(ctx.used_secrets).mask(run.emitted), now=now, locked=True, depth=run.depth)
            _control(agent, run.control, now)
        agent.memory, agent.last_error = run.memory, ""
    except Exception as exc:
        expected = isinstance(exc, AgentError | TemplateRenderError)
        text = str(exc) if expected else f"{type(exc).__name__}: {exc}"
        failure = Masker(ctx.used_secrets).mask_text(text)[:MAX_ERROR_CHARS]
        agent.last_error = f"{now.isoformat()} {failure}"
        logger.error("Agent %s (%s) failed: %s", agent.name, agent.pk, failure, exc_info=not expected)
    fields = ["memory", "last_error", "updated_at"]
    if message is None:
        agent.last_run_at = now
        fields.append("last_run_at")
    agent.save(update_fields=fields)
    _count_run(agent, failed=bool(failure))
    _write_logs(agent, run, message, len(emitted), failure, Masker(ctx.used_secrets))
    return emitted


def _count_run(agent: Agent, *, failed: bool) -> None:
    """Count the run in `millrace_agent_runs` once its transaction commits (a run rolled back
    did not happen); an unknown type is `other`, so labels stay bounded."""
    try:
        agent_type(agent.type)
        kind = agent.type
    except LookupError:
        kind = "other"
    namespace = agent.namespace.name

    def count() -> None:
        metrics = engine_metrics()
        scope = [namespace] if metrics.detailed else []
        metrics.agent_runs.labels(kind, "failed" if failed else "success", *scope).inc()

    transaction.on_commit(count, robust=True)  # a metrics fault never fails a run


def _write_logs(
    agent: Agent, run: AgentRun, message: Message | None, emitted: int, failure: str, masker: Masker
) -> None:
    """The handler's own lines and one line saying what the run did."""
    lines = [(level, masker.mask_text(str(text))[:MAX_ERROR_CHARS]) for level, text in run.logs]
    what = f"Received message {message.pk}" if message else "Ran"
    if failure:
        lines.append((AgentLog.Level.ERROR, f"{what} and failed: {failure}"))
    else:
        lines.append((AgentLog.Level.INFO, f"{what}; emitted {emitted} message{'' if emitted == 1 else 's'}."))
    log_lines(agent, lines, inbound=message, emitted=emitted)


def log_lines(agent: Agent, lines: list[tuple[str, str]], *, inbound: Message | None = None, emitted: int = 0) -> None:
    """Store log lines of an agent, then trim its log to the newest `MILLRACE_AGENT_LOG_KEEP`."""
    AgentLog.objects.bulk_create(
        AgentLog(agent=agent, level=level, text=text[:MAX_ERROR_CHARS], inbound_message=inbound, outbound_count=emitted)
        for level, text in lines
    )
    keep = settings.MILLRACE_AGENT_LOG_KEEP
    oldest_kept = agent.logs.order_by("-id").values_list("id", flat=True)[keep - 1 : keep].first()
    if oldest_kept is not None:
        agent.logs.filter(id__lt=oldest_kept).delete()


def emit(
    agent: Agent,
    payloads: list[dict[str, Any]],
    *,
    now: datetime | None = None,
    locked: bool = False,
    depth: int = 0,
) -> list[Message]:
    """Store messages of an agent and, on commit, wake every enabled receiver once and start the
    flows of its agent triggers (`agents.flow_triggers`).

    Holds the agent's row lock until commit (taken here unless `locked`), so its message ids
    become visible in order and its `messages_count` moves with them. `depth` counts the flow
    starts behind the messages (see `agents.flow_types`).
    """
    if not payloads:
        return []
    now = now or timezone.now()
    if not locked:
        Agent.objects.select_for_update(of=("self",)).filter(pk=agent.pk).values_list("pk", flat=True).first()
    expires_at = now + timedelta(seconds=agent.keep_messages_for) if agent.keep_messages_for else None
    messages = [
        Message.objects.create(agent=agent, payload=payload, expires_at=expires_at, depth=depth) for payload in payloads
    ]
    Agent.objects.filter(pk=agent.pk).update(messages_count=F("messages_count") + len(messages))
    receivers = AgentLink.objects.filter(source=agent, receiver__disabled=False).values_list("receiver_id", flat=True)
    for receiver_id in receivers:
        dispatch.on_commit("agents.runtime.deliver", str(receiver_id))
    if Trigger.objects.filter(type=Trigger.Type.AGENT, enabled=True, source_agent=agent).exists():
        dispatch.on_commit("agents.flow_triggers.triggers_fire", [message.pk for message in messages])
    return messages


def _control(agent: Agent, actions: list[tuple[str, list[str]]], now: datetime) -> None:
    """SchedulerAgent's actions on agents of its own namespace."""
    from agents.services import jump_cursors  # services imports this module (`emit`): a real cycle

    for action, target_ids in actions:
        targets = Agent.objects.filter(namespace_id=agent.namespace_id, pk__in=_uuids(target_ids)).exclude(pk=agent.pk)
        if action == "run":
            for target_id in targets.values_list("pk", flat=True):
                dispatch.on_commit("agents.runtime.run_agent", str(target_id), now.isoformat())
        elif action == "enable":
            for target in targets.filter(disabled=True):
                jump_cursors(target)
            targets.update(disabled=False)
        elif action == "disable":
            targets.update(disabled=True)


def _uuids(values: list[str]) -> list[str]:
    valid = []
    for value in values:
        try:
            valid.append(str(UUID(str(value))))
        except ValueError:
            raise AgentError(f"'{value}' is not an agent id") from None
    return valid
