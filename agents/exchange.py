"""Export a workflow (a flow and its agents) as a JSON document, and import one.

The document follows Huginn's scenario export: `agents` (with a `guid`), `links` and
`control_links` by index into `agents`. A WebhookAgent's secret is left out of an export
(it is a credential) and a new one is made on import. The flow of an imported workflow gets
a one-step definition that only says what it is: an ActiveWorkflow workflow is a group of
agents, and its agents run on their own.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Account, Namespace
from agents import services
from agents.logic_types import WebhookAgent
from agents.types import agent_type
from core.errors import ValidationFailed
from core.timefmt import isoformat
from flows.models import Agent, AgentLink, Flow
from flows.services import flow_create

SCHEMA_VERSION = 1
INDEX_REF = "agent-index:"
AGENT_FIELDS = ("name", "type", "schedule", "disabled", "keep_messages_for", "options")


def export_document(flow: Flow) -> dict[str, Any]:
    agents = list(flow.agents.filter(namespace_id=flow.namespace_id).order_by("created_at", "id"))
    index = {agent.pk: position for position, agent in enumerate(agents)}
    links = AgentLink.objects.filter(source_id__in=index, receiver_id__in=index).order_by("id")
    return {
        "schema_version": SCHEMA_VERSION,
        "name": flow.name,
        "description": flow.description,
        "exported_at": isoformat(timezone.now()),
        "agents": [_export_agent(agent) for agent in agents],
        "links": [{"source": index[link.source_id], "receiver": index[link.receiver_id]} for link in links],
        "control_links": [],
    }


def _export_agent(agent: Agent) -> dict[str, Any]:
    options = dict(agent.options or {})
    if isinstance(_handler(agent.type), WebhookAgent):
        options.pop("secret", None)
    return {"guid": str(agent.pk), **{name: getattr(agent, name) for name in AGENT_FIELDS[:-1]}, "options": options}


def _handler(type_name: str) -> Any:
    try:
        return agent_type(type_name)
    except LookupError:
        return None


def placeholder_source(name: str) -> str:
    """A valid one-step definition for the flow that groups imported agents."""
    text = f"ActiveWorkflow workflow '{name}': its agents run on their own schedules and messages."
    return (
        f"name: {_yaml_text(name)}\ntasks:\n  - name: about\n    type: util.log\n"
        f"    properties:\n      message: {_yaml_text(text)}\n"
    )


def _yaml_text(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid YAML scalar


def _fail(field: str, reason: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {reason}", details=[{"field": field, "reason": reason}])


def _index_pairs(document: dict[str, Any], key: str, left: str, right: str, count: int) -> list[tuple[int, int]]:
    pairs = document.get(key) or []
    if not isinstance(pairs, list):
        raise _fail(key, "must be a list")
    result = []
    for position, pair in enumerate(pairs):
        ok = isinstance(pair, dict) and all(
            isinstance(pair.get(side), int) and not isinstance(pair.get(side), bool) and 0 <= pair[side] < count
            for side in (left, right)
        )
        if not ok:
            raise _fail(f"{key}[{position}]", f"needs '{left}' and '{right}' as indexes into agents")
        result.append((pair[left], pair[right]))
    return result


@transaction.atomic
def workflow_import(
    *, actor: Account, namespace: Namespace, document: Any, name: str | None = None
) -> tuple[Flow, list[Agent]]:
    """Create the flow, its agents (new ids), their links and the scheduler targets."""
    if not isinstance(document, dict):
        raise _fail("document", "must be an object")
    specs = document.get("agents")
    if not isinstance(specs, list) or not all(isinstance(spec, dict) for spec in specs):
        raise _fail("agents", "must be a list of agent objects")
    links = _index_pairs(document, "links", "source", "receiver", len(specs))
    controls = _index_pairs(document, "control_links", "controller", "control_target", len(specs))
    flow_name = str(name or document.get("name") or "").strip()
    if not flow_name:
        raise _fail("name", "required")
    description = document.get("description") or ""
    flow = flow_create(
        actor=actor, namespace=namespace, source=placeholder_source(flow_name), name=flow_name,
        description=str(description),
    )  # fmt: skip
    targets: dict[int, list[str]] = {}
    for controller, target in controls:
        targets.setdefault(controller, []).append(f"{INDEX_REF}{target}")
    agents: list[Agent] = []
    for position, spec in enumerate(specs):
        keep = spec.get("keep_messages_for", spec.get("keep_events_for"))
        options = spec.get("options") or {}
        if position in targets and isinstance(options, dict):
            options = {**options, "target_ids": [*(options.get("target_ids") or []), *targets[position]]}
        try:
            agents.append(
                services.agent_create(
                    actor=actor, namespace=namespace, name=spec.get("name", ""), type=spec.get("type", ""),
                    options=options, schedule=spec.get("schedule") or "never",
                    disabled=bool(spec.get("disabled", False)), workflow_ids=[flow.pk], keep_messages_for=keep,
                )
            )  # fmt: skip
        except ValidationFailed as exc:
            raise ValidationFailed(f"agents[{position}]: {exc.message}", details=exc.details) from exc
    for source, receiver in links:
        if not agent_type(agents[receiver].type).receives:
            raise _fail(f"links ({source} -> {receiver})", f"{agents[receiver].type} does not receive messages")
        AgentLink.objects.get_or_create(source=agents[source], receiver=agents[receiver])
    _remap_targets(specs, agents)
    return flow, agents


def _remap_targets(specs: list[dict[str, Any]], agents: list[Agent]) -> None:
    """Scheduler targets named by exported guid or control link point at the new agents."""
    new_ids = {str(spec.get("guid")): str(agent.pk) for spec, agent in zip(specs, agents, strict=True)}
    new_ids.update({f"{INDEX_REF}{position}": str(agent.pk) for position, agent in enumerate(agents)})
    for agent in agents:
        ids = agent.options.get("target_ids")
        if isinstance(ids, list) and any(str(i) in new_ids for i in ids):
            mapped = [new_ids.get(str(i), i) for i in ids]
            agent.options = {**agent.options, "target_ids": list(dict.fromkeys(mapped))}
            agent.save(update_fields=["options", "updated_at"])
