"""Writes on agents and messages: create, update, delete, run now, manual messages, webhooks.

Editors write agents; executors run them and send messages; a WebhookAgent's secret URL is
its own credential. Every write is audited. Links made later (a new source, an agent enabled
again) start at the source's newest message: an agent receives what is emitted from then on.
Whoever saves an agent's options (or type) becomes `options_saved_by`, the account whose
secrets `${NAME}` may use, and the names are checked against that account's secrets then —
as a flow's secrets follow the author of its running revision.
"""

from __future__ import annotations

import hmac
from typing import Any
from uuid import UUID

from django.db import transaction
from django.db.models import Max

from accounts.models import Account, Namespace
from accounts.roles import Role
from accounts.selectors import ensure_role
from accounts.services import audit_record
from agents import schedules
from agents.logic_types import WebhookAgent
from agents.runtime import emit
from agents.types import AgentError, AgentType, PluginAgentType, agent_type
from core.errors import BadRequest, NotFound, ValidationFailed
from executions.engine import dispatch
from executions.models import AgentLog, Message
from flows.definitions.references import names_in
from flows.definitions.urls import refused_inputs
from flows.models import Agent, AgentLink, Flow
from vault.selectors import secret_names

UNSET: Any = object()
MAX_NAME = 200


def _problem(field: str, reason: str) -> dict[str, str]:
    return {"field": field, "reason": reason}


def _ids(values: Any, field: str, problems: list[dict[str, str]]) -> list[UUID]:
    if not isinstance(values, list | tuple):
        problems.append(_problem(field, "must be a list of ids"))
        return []
    ids = []
    for value in values:
        try:
            ids.append(UUID(str(value)))
        except ValueError:
            problems.append(_problem(field, f"'{value}' is not an id"))
    return ids


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def _refused_urls(handler: AgentType, options: dict[str, Any]) -> list[str]:
    """Literal outbound options the network policy refuses: refused when saved, not at every run.

    URL options, and a plugin agent's database URL or SMTP host, as a flow's are judged
    (`flows.definitions.urls.refused_inputs`): templated values when rendered, host names
    when the agent runs.
    """
    plugin = handler.plugin if isinstance(handler, PluginAgentType) else None
    return [f"{key}: {why}" for key, why in refused_inputs(options, url_keys=handler.url_options, plugin=plugin)]


def unknown_secrets(namespace: Namespace, saver: Account, options: Any) -> list[str]:
    """Secret names in the options that neither the namespace nor the saver holds."""
    named = dict.fromkeys(name for text in _strings(options) for name in names_in(text))
    if not named:
        return []
    known = secret_names(namespace_id=namespace.pk, account_id=saver.pk)
    return [name for name in named if name not in known]


def _validate(
    namespace: Namespace, values: dict[str, Any], agent: Agent | None, saver: Account | None = None
) -> tuple[list[Agent] | None, list[Flow] | None]:
    """Check every field; raise ValidationFailed listing each problem. Returns (sources, flows).

    `saver` is given when the options are being saved: their secret names must be its own
    or the namespace's.
    """
    problems: list[dict[str, str]] = []
    name = values["name"]
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        problems.append(_problem("name", f"required, at most {MAX_NAME} characters"))
    handler = agent_type_or_none(values["type"]) if isinstance(values["type"], str) else None
    if handler is None:
        problems.append(_problem("type", f"unknown agent type '{values['type']}'"))
    options = values["options"]
    if not isinstance(options, dict):
        problems.append(_problem("options", "must be an object"))
    elif handler is not None:
        problems += [_problem("options", reason) for reason in handler.option_problems(options)]
        problems += [_problem("options", reason) for reason in _refused_urls(handler, options)]
        problems += [_problem("options", reason) for reason in handler.scope_problems(namespace.pk, options)]
    if saver is not None and isinstance(options, dict):
        problems += [
            _problem("options", f"unknown secret '{name}'") for name in unknown_secrets(namespace, saver, options)
        ]
    schedule = values["schedule"]
    if not isinstance(schedule, str) or not schedules.is_valid(schedule):
        problems.append(_problem("schedule", "every_1m..every_7d, midnight, 1am..11pm, never, or a cron string"))
    elif handler is not None and not handler.schedulable and schedules.normalize(schedule) != schedules.NEVER:
        problems.append(_problem("schedule", f"{values['type']} cannot be scheduled; use 'never'"))
    if not isinstance(values["disabled"], bool):
        problems.append(_problem("disabled", "must be true or false"))
    keep = values["keep_messages_for"]
    if keep is not None and (not isinstance(keep, int) or isinstance(keep, bool) or keep < 0):
        problems.append(_problem("keep_messages_for", "seconds, a whole number of 0 or more (0 or null: forever)"))
    sources = flows = None
    if values["source_ids"] is not None:
        ids = _ids(values["source_ids"], "sources", problems)
        sources = list(Agent.objects.filter(namespace=namespace, pk__in=ids))
        if len(sources) != len(set(ids)):
            problems.append(_problem("sources", "every source must be an agent of the same namespace"))
        if agent is not None and any(source.pk == agent.pk for source in sources):
            problems.append(_problem("sources", "an agent cannot receive its own messages"))
        if sources and handler is not None and not handler.receives:
            problems.append(_problem("sources", f"{values['type']} does not receive messages"))
    if values["workflow_ids"] is not None:
        ids = _ids(values["workflow_ids"], "workflow_ids", problems)
        flows = list(Flow.objects.filter(namespace=namespace, pk__in=ids))
        if len(flows) != len(set(ids)):
            problems.append(_problem("workflow_ids", "every workflow must be in the same namespace"))
    if problems:
        raise ValidationFailed("; ".join(f"{p['field']}: {p['reason']}" for p in problems), details=problems)
    return sources, flows


def _latest_message_id(source_id: Any) -> int:
    return Message.objects.filter(agent_id=source_id).aggregate(latest=Max("id"))["latest"] or 0


def _set_sources(agent: Agent, sources: list[Agent]) -> None:
    wanted = {source.pk for source in sources}
    AgentLink.objects.filter(receiver=agent).exclude(source_id__in=wanted).delete()
    existing = set(AgentLink.objects.filter(receiver=agent).values_list("source_id", flat=True))
    for source_id in wanted - existing:
        AgentLink.objects.create(source_id=source_id, receiver=agent, cursor=_latest_message_id(source_id))


def jump_cursors(agent: Agent) -> None:
    """Skip what the agent's sources emitted while it was disabled (it receives nothing then)."""
    for link in AgentLink.objects.select_for_update().filter(receiver=agent):
        AgentLink.objects.filter(pk=link.pk).update(cursor=max(link.cursor, _latest_message_id(link.source_id)))


def _summary(agent: Agent) -> dict[str, Any]:
    return {"name": agent.name, "type": agent.type, "schedule": agent.schedule, "disabled": agent.disabled}


@transaction.atomic
def agent_create(
    *,
    actor: Account,
    namespace: Namespace,
    name: str,
    type: str,
    options: dict[str, Any] | None = None,
    schedule: str | None = None,
    disabled: bool = False,
    source_ids: list[Any] | None = None,
    workflow_ids: list[Any] | None = None,
    keep_messages_for: int | None = None,
) -> Agent:
    ensure_role(actor, namespace, Role.EDITOR)
    values = {
        "name": name, "type": type, "options": {} if options is None else options,
        "schedule": schedules.normalize(schedule), "disabled": disabled, "source_ids": source_ids or [],
        "workflow_ids": workflow_ids or [], "keep_messages_for": keep_messages_for,
    }  # fmt: skip
    sources, flows = _validate(namespace, values, None, saver=actor)
    agent = Agent.objects.create(
        namespace=namespace,
        name=name.strip(),
        type=type,
        options=agent_type(type).prepare_options(values["options"]),
        schedule=values["schedule"],
        disabled=disabled,
        keep_messages_for=keep_messages_for or None,
        created_by=actor,
        options_saved_by=actor,
    )
    _set_sources(agent, sources or [])
    agent.flows.set(flows or [])
    audit_record(
        actor=actor, action="agent.create", resource_type="agent", resource_id=agent.pk, namespace=namespace,
        summary=_summary(agent),
    )  # fmt: skip
    return agent


@transaction.atomic
def agent_update(
    *,
    actor: Account,
    agent: Agent,
    name: Any = UNSET,
    type: Any = UNSET,
    options: Any = UNSET,
    schedule: Any = UNSET,
    disabled: Any = UNSET,
    source_ids: Any = UNSET,
    workflow_ids: Any = UNSET,
    keep_messages_for: Any = UNSET,
) -> Agent:
    """Change the given fields; the others stay. Re-enabling skips what was emitted meanwhile.

    Changed options or type make the actor the account whose secrets the agent uses.
    """
    ensure_role(actor, agent.namespace, Role.EDITOR)
    agent = Agent.objects.select_for_update(of=("self",)).select_related("namespace").get(pk=agent.pk)
    given = {
        "name": name, "type": type, "options": options, "schedule": schedule, "disabled": disabled,
        "keep_messages_for": keep_messages_for,
    }  # fmt: skip
    values = {key: getattr(agent, key) if value is UNSET else value for key, value in given.items()}
    if isinstance(values["schedule"], str):
        values["schedule"] = schedules.normalize(values["schedule"])
    values["source_ids"] = None if source_ids is UNSET else source_ids
    values["workflow_ids"] = None if workflow_ids is UNSET else workflow_ids
    if source_ids is UNSET and not agent_type_receives(values["type"]) and agent.incoming_links.exists():
        values["source_ids"] = []  # a type that receives nothing keeps no sources
    options_saved = values["type"] != agent.type or (options is not UNSET and options != agent.options)
    sources, flows = _validate(agent.namespace, values, agent, saver=actor if options_saved else None)
    was_disabled = agent.disabled
    agent.name, agent.type, agent.schedule = values["name"].strip(), values["type"], values["schedule"]
    agent.options = agent_type(agent.type).prepare_options(values["options"])
    if options_saved:
        agent.options_saved_by = actor
    agent.disabled, agent.keep_messages_for = values["disabled"], values["keep_messages_for"] or None
    agent.save()
    if sources is not None:
        _set_sources(agent, sources)
    if flows is not None:
        agent.flows.set(flows)
    if was_disabled and not agent.disabled:
        jump_cursors(agent)
    changed = sorted(key for key, value in {**given, "sources": source_ids, "workflow_ids": workflow_ids}.items()
                     if value is not UNSET)  # fmt: skip
    audit_record(
        actor=actor, action="agent.update", resource_type="agent", resource_id=agent.pk, namespace=agent.namespace,
        summary={**_summary(agent), "fields": changed},
    )  # fmt: skip
    return agent


def agent_validate(*, actor: Account, namespace: Namespace, agent: Agent | None = None, **fields: Any) -> None:
    """Raise what `agent_create` (or `agent_update` of `agent`) would for `fields`, writing nothing.

    The console checks its form with it, as `flows.triggers.trigger_validate` does for
    triggers, so a refused value is a form error rather than a failure after the form was accepted.
    """
    namespace = agent.namespace if agent is not None else namespace
    ensure_role(actor, namespace, Role.EDITOR)
    keys = ("name", "type", "options", "schedule", "disabled", "keep_messages_for")
    if agent is not None:
        values = {key: getattr(agent, key) for key in keys}
    else:
        values = {"name": "", "type": "", "options": {}, "schedule": None, "disabled": False, "keep_messages_for": None}
    values |= {"source_ids": None, "workflow_ids": None}
    values |= {key: value for key, value in fields.items() if key in values}
    if values["schedule"] is None or isinstance(values["schedule"], str):
        values["schedule"] = schedules.normalize(values["schedule"])
    saved = agent is None or values["type"] != agent.type or values["options"] != agent.options
    _validate(namespace, values, agent, saver=actor if saved else None)


def agent_type_receives(type_name: Any) -> bool:
    try:
        return agent_type(type_name).receives
    except (LookupError, TypeError):
        return True


@transaction.atomic
def agent_delete(*, actor: Account, agent: Agent) -> None:
    ensure_role(actor, agent.namespace, Role.EDITOR)
    audit_record(
        actor=actor, action="agent.delete", resource_type="agent", resource_id=agent.pk, namespace=agent.namespace,
        summary=_summary(agent),
    )  # fmt: skip
    agent.delete()


@transaction.atomic
def agent_run(*, actor: Account, agent: Agent) -> None:
    """Run now (queued on commit), whatever the schedule; a disabled agent runs too when asked."""
    ensure_role(actor, agent.namespace, Role.EXECUTOR)
    if not agent_type(agent.type).schedulable:
        raise BadRequest(f"{agent.type} does not run on its own; it acts on messages.")
    audit_record(
        actor=actor, action="agent.run", resource_type="agent", resource_id=agent.pk, namespace=agent.namespace,
        summary={"name": agent.name},
    )  # fmt: skip
    dispatch.on_commit("agents.runtime.run_agent", str(agent.pk), None, True)


@transaction.atomic
def message_create(*, actor: Account, agent: Agent, payload: Any) -> Message:
    """A manual message, emitted by the agent as if it had produced it."""
    ensure_role(actor, agent.namespace, Role.EXECUTOR)
    if not isinstance(payload, dict):
        raise ValidationFailed("payload must be an object.", details=[_problem("payload", "must be an object")])
    (message,) = emit(agent, [payload])
    audit_record(
        actor=actor, action="agent.message", resource_type="message", resource_id=message.uuid,
        namespace=agent.namespace, summary={"agent": str(agent.pk)},
    )  # fmt: skip
    return message


@transaction.atomic
def webhook_receive(*, agent_id: Any, secret: str, body: Any) -> list[Message]:
    """A POST to a WebhookAgent's secret URL; anything but an enabled WebhookAgent with that secret is 404."""
    try:
        agent = Agent.objects.filter(pk=UUID(str(agent_id))).first()
    except ValueError:
        agent = None
    expected = str((agent.options or {}).get("secret", "")) if agent is not None else ""
    valid = agent is not None and isinstance(agent_type_or_none(agent.type), WebhookAgent)
    if not (valid and expected and hmac.compare_digest(expected.encode(), str(secret).encode())) or agent.disabled:
        raise NotFound("Agent not found.")
    try:
        payloads = WebhookAgent.payloads(agent.options, body)
    except AgentError as exc:
        raise BadRequest(str(exc)) from None
    if not payloads:
        raise BadRequest("The body holds no payload.")
    return emit(agent, payloads)


def agent_type_or_none(type_name: str) -> Any:
    try:
        return agent_type(type_name)
    except LookupError:
        return None


@transaction.atomic
def agent_logs_clear(*, actor: Account, agent: Agent) -> int:
    """Huginn's "Clear logs" (editors): removes every log line of the agent, audited; returns the count."""
    ensure_role(actor, agent.namespace, Role.EDITOR)
    deleted, _ = AgentLog.objects.filter(agent=agent).delete()
    audit_record(
        actor=actor, action="agent.logs_clear", resource_type="agent", resource_id=agent.pk,
        namespace=agent.namespace, summary={"name": agent.name, "deleted": deleted},
    )  # fmt: skip
    return deleted
