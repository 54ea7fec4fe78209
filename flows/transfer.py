"""A flow's export file (served by workflowdev's import/export), and importing one.

The file holds the flow (name, namespace, description, YAML) and its triggers. Credential
values never appear in it (the YAML only names them as `${NAME}`), and neither do webhook
keys: a key is the credential of its webhook, so an imported webhook gets a new one. A flow
trigger names its source flow by name, which is looked up in the target namespace. Agent
triggers are left out: they name an agent by id.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Account, Namespace
from core.errors import Conflict, ValidationFailed
from flows.models import Flow, Trigger
from flows.services import flow_create, flow_update
from flows.triggers import trigger_create, trigger_delete

EXPORT_VERSION = 1


def flow_export(flow: Flow) -> dict[str, Any]:
    triggers = []
    # agent triggers name an agent by id, which means nothing in another installation: left out
    for trigger in (
        flow.triggers.exclude(type=Trigger.Type.AGENT).select_related("source_flow").order_by("created_at", "id")
    ):
        item: dict[str, Any] = {
            "name": trigger.name,
            "type": trigger.type,
            "enabled": trigger.enabled,
            "inputs": trigger.inputs,
            "fromDefinition": trigger.from_definition,
        }
        if trigger.type == Trigger.Type.SCHEDULE:
            item.update(cron=trigger.cron, timezone=trigger.timezone)
        elif trigger.type == Trigger.Type.FLOW:
            item.update(
                sourceFlowName=trigger.source_flow.name if trigger.source_flow else "", statuses=trigger.statuses
            )
        triggers.append(item)
    return {
        "version": EXPORT_VERSION,
        "exportedAt": timezone.now(),
        "flow": {
            "name": flow.name,
            "namespace": flow.namespace.name,
            "description": flow.description,
            "yamlContent": flow.source,
            "revision": flow.revision,
        },
        "triggers": triggers,
    }


def _trigger_fields(namespace: Namespace, item: dict[str, Any], index: int) -> dict[str, Any]:
    fields = {k: item[k] for k in ("name", "enabled", "inputs", "cron", "timezone", "statuses") if k in item}
    if item["type"] == Trigger.Type.FLOW:
        source = Flow.objects.filter(namespace=namespace, name=item.get("sourceFlowName") or "").first()
        if source is None:
            raise ValidationFailed(
                f"Trigger {index} watches flow '{item.get('sourceFlowName')}', which is not in '{namespace.name}'.",
                details=[{"field": f"triggers[{index}].sourceFlowName", "reason": "unknown flow"}],
            )
        fields["source_flow_id"] = source.pk
    return fields


@transaction.atomic
def flow_import(
    *, actor: Account, namespace: Namespace, data: dict[str, Any], overwrite: bool = False
) -> tuple[Flow, bool]:
    """Create the flow of an export file, or with `overwrite` replace the one of that name.

    Overwriting replaces the definition, the description and the API-created triggers.
    Returns the flow and whether it was created.
    """
    body = data["flow"]
    existing = Flow.objects.filter(namespace=namespace, name=body["name"]).first()
    if existing is not None and not overwrite:
        raise Conflict(f"A flow named '{body['name']}' already exists in '{namespace.name}'; use ?overwrite=true.")
    if existing is None:
        flow = flow_create(
            actor=actor,
            namespace=namespace,
            source=body["yamlContent"],
            name=body["name"],
            description=body.get("description", ""),
        )
    else:
        flow = flow_update(
            actor=actor, flow=existing, source=body["yamlContent"], description=body.get("description", "")
        )
        for trigger in flow.triggers.filter(from_definition=False):
            trigger_delete(actor=actor, trigger=trigger)
    for index, item in enumerate(data.get("triggers") or []):
        if item.get("fromDefinition"):
            continue  # the YAML declares it; saving the flow has synced it already
        trigger_create(actor=actor, flow=flow, type=item["type"], **_trigger_fields(namespace, item, index))
    return flow, existing is None
