"""Writes on flows: create, update (a new revision when the source changes), delete, restore.

Every save compiles the definition first and refuses it with every problem (path, line,
message); `${NAME}` references are checked against the secrets the flow may use (its
namespace's credentials and its owner's account secrets), subflow references against the
namespace's flows, and literal outbound URLs against the network policy. Triggers declared
in the YAML are synced to Trigger rows.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction

from accounts.models import Account, Namespace
from accounts.roles import Role
from accounts.selectors import ensure_role
from accounts.services import audit_record
from core.errors import Conflict, NotFound, ValidationFailed
from flows.definitions import CompiledFlow, DefinitionError, Problem, compile_definition, validate_definition
from flows.definitions.ir import TriggerType
from flows.definitions.problems import Problems, format_path
from flows.definitions.references import check_subflows
from flows.definitions.urls import check_urls
from flows.definitions.validate import ExtraCheck
from flows.models import EXECUTION_END_STATUSES, Flow, FlowRevision, Trigger
from flows.webhook_keys import KEY_REFUSED, new_webhook_key, strong_key
from vault.selectors import secret_names


def known_secrets(namespace: Namespace, owner: Account | None) -> set[str]:
    return secret_names(namespace_id=namespace.pk, account_id=owner.pk if owner else None)


def flow_validate(*, source: Any, namespace: Namespace | None = None, owner: Account | None = None) -> list[Problem]:
    """Every problem of a definition; secrets are checked only when the namespace is known."""
    if not isinstance(source, str | bytes):
        return [Problem("", None, "The definition must be YAML text.", "invalid_type")]
    if namespace is None:
        return validate_definition(source, checks=[check_urls, _webhook_keys(None, saving=False)])
    checks = _checks(namespace, None, saving=False)
    return validate_definition(source, known_secrets=known_secrets(namespace, owner), checks=checks)


def _checks(namespace: Namespace, saved: Flow | None, *, saving: bool = True) -> list[ExtraCheck]:
    """What saving checks beyond the source: literal URLs, subflow references within `namespace`,
    chosen webhook keys (`saved`: the flow being changed, whose triggers keep their keys)."""

    def subflows(flow: CompiledFlow, problems: Problems) -> None:
        check_subflows(flow, namespace.name, partial(_flow_exists, namespace, flow.name), problems)

    return [check_urls, subflows, _webhook_keys(saved, saving=saving)]


def _webhook_keys(saved: Flow | None, *, saving: bool) -> ExtraCheck:
    """A key chosen in the YAML must be strong and, when `saving`, unused; one refusal for both.

    A key the declared triggers of `saved` already have stays acceptable, so a flow saved with
    a key chosen before the rule can still be changed (and its trigger renamed).
    """
    kept: set[str | None] = set()
    if saved is not None:
        kept = set(saved.triggers.filter(from_definition=True).values_list("key", flat=True))

    def check(flow: CompiledFlow, problems: Problems) -> None:
        for spec in flow.triggers:
            if spec.type != TriggerType.WEBHOOK or spec.key is None or spec.key in kept:
                continue
            if not strong_key(spec.key) or (saving and Trigger.objects.filter(key=spec.key).exists()):
                problems.add((*spec.source, "key"), KEY_REFUSED, "refused_key")

    return check


def _compile(source: Any, namespace: Namespace, owner: Account | None, saved: Flow | None = None) -> CompiledFlow:
    if not isinstance(source, str) or not source.strip():
        raise ValidationFailed(
            "The flow definition is empty.", details=[{"path": "", "line": None, "message": "required"}]
        )
    try:
        compiled = compile_definition(
            source, known_secrets=known_secrets(namespace, owner), checks=_checks(namespace, saved)
        )
    except DefinitionError as exc:
        raise ValidationFailed(f"The flow definition is invalid: {exc.problems[0]}", details=exc.as_dicts()) from exc
    if compiled.namespace and compiled.namespace != namespace.name:
        raise ValidationFailed(
            f"The definition names namespace '{compiled.namespace}' but the flow is saved in '{namespace.name}'.",
            details=[{"path": "namespace", "line": None, "message": "does not match the flow's namespace"}],
        )
    return compiled


def _flow_exists(namespace: Namespace, own_name: str, key: str, value: str) -> bool:
    """Whether a subflow reference finds a flow of `namespace` (a flow may call itself by name)."""
    if key == "flowId":
        try:
            return Flow.objects.filter(namespace=namespace, pk=UUID(value)).exists()
        except ValueError:
            return False
    return value == own_name or Flow.objects.filter(namespace=namespace, name=value).exists()


def _sync_triggers(flow: Flow, compiled: CompiledFlow) -> None:
    """Make the YAML-declared triggers of a flow match its definition (by name)."""
    declared = {trigger.name: trigger for trigger in compiled.triggers}
    flow.triggers.filter(from_definition=True).exclude(name__in=declared).delete()
    for name, spec in declared.items():
        source_flow = None
        if spec.type == TriggerType.FLOW:
            path = format_path(spec.source) or f"triggers.{name}"
            if spec.source_namespace and spec.source_namespace != flow.namespace.name:
                raise ValidationFailed(
                    f"Trigger '{name}' watches namespace '{spec.source_namespace}'; "
                    f"flow triggers watch flows of namespace '{flow.namespace.name}' only.",
                    details=[{"path": f"{path}.namespace", "line": None, "message": "another namespace"}],
                )
            candidates = Flow.objects.filter(namespace=flow.namespace)
            if spec.source_flow_id:
                source_flow = candidates.filter(pk=spec.source_flow_id).first()
            elif spec.source_flow:
                source_flow = candidates.filter(name=spec.source_flow).first()
            if source_flow is None:
                raise ValidationFailed(
                    f"Trigger '{name}' watches a flow that is not in namespace '{flow.namespace.name}'.",
                    details=[{"path": path, "line": None, "message": "unknown source flow"}],
                )
            if source_flow.pk == flow.pk:  # it would start itself each time it ends
                raise ValidationFailed(
                    f"Trigger '{name}' watches its own flow; a flow trigger must watch another flow.",
                    details=[{"path": path, "line": None, "message": "watches its own flow"}],
                )
        existing = flow.triggers.filter(from_definition=True, name=name).first()
        values = {
            "type": str(spec.type),
            "enabled": spec.enabled,
            "inputs": spec.inputs,
            "cron": spec.cron or "",
            "timezone": spec.timezone or "UTC",
            "recover_missed": spec.recover_missed,
            "source_flow": source_flow,
            "statuses": spec.statuses,
        }
        if existing is None or (existing.cron, existing.timezone, existing.enabled) != (
            values["cron"],
            values["timezone"],
            values["enabled"],
        ):
            values["next_fire_at"] = None  # the scheduler arms it again from the new cron
        if spec.type == TriggerType.WEBHOOK:
            values["key"] = spec.key or (existing.key if existing and existing.key else new_webhook_key())
        else:
            values["key"] = None  # a trigger that stopped being a webhook stops answering its old key
        try:
            with transaction.atomic():
                Trigger.objects.update_or_create(flow=flow, from_definition=True, name=name, defaults=values)
        except IntegrityError as exc:  # taken since the check: answered as any refused key
            path = format_path((*spec.source, "key"))
            raise ValidationFailed(
                f"{path}: {KEY_REFUSED}", details=[{"path": path, "line": None, "message": KEY_REFUSED}]
            ) from exc


@transaction.atomic
def flow_create(
    *,
    actor: Account,
    namespace: Namespace,
    source: str,
    name: str | None = None,
    description: str | None = None,
    tags: list[str] | None = None,
) -> Flow:
    ensure_role(actor, namespace, Role.EDITOR)
    compiled = _compile(source, namespace, actor)
    name = (name or compiled.name or "").strip()
    if not name:
        raise ValidationFailed("A flow needs a name.", details=[{"path": "name", "line": None, "message": "required"}])
    conflict = Conflict(f"A flow named '{name}' already exists in namespace '{namespace.name}'.")
    if Flow.objects.filter(namespace=namespace, name=name).exists():
        raise conflict
    try:
        with transaction.atomic():  # a concurrent create of the same name loses here
            flow = Flow.objects.create(
                namespace=namespace,
                name=name,
                description=compiled.description if description is None else description,
                version=compiled.version or "",
                tags=list(compiled.tags if tags is None else tags),
                source=source,
                format=str(compiled.format),
                revision=1,
                created_by=actor,
                updated_by=actor,
            )
    except IntegrityError as exc:
        raise conflict from exc
    FlowRevision.objects.create(flow=flow, number=1, source=source, created_by=actor)
    _sync_triggers(flow, compiled)
    audit_record(
        actor=actor,
        action="flow.create",
        resource_type="flow",
        resource_id=flow.pk,
        namespace=namespace,
        summary={"name": name, "revision": 1},
    )
    return flow


@transaction.atomic
def flow_update(
    *,
    actor: Account,
    flow: Flow,
    source: str | None = None,
    name: str | None = None,
    description: str | None = None,
    tags: list[str] | None = None,
) -> Flow:
    """Change a flow; a changed source is compiled and saved as a new revision."""
    ensure_role(actor, flow.namespace, Role.EDITOR)
    flow = Flow.objects.select_for_update().get(pk=flow.pk)
    changed: dict[str, Any] = {}
    if source is not None and source != flow.source:
        compiled = _compile(source, flow.namespace, actor, flow)  # `${NAME}` may use the saver's own secrets
        flow.source, flow.format, flow.version = source, str(compiled.format), compiled.version or flow.version
        flow.revision += 1
        FlowRevision.objects.create(flow=flow, number=flow.revision, source=source, created_by=actor)
        _sync_triggers(flow, compiled)
        changed["revision"] = flow.revision
    name = name.strip() if name is not None else None
    if name and name != flow.name:
        if Flow.objects.filter(namespace=flow.namespace, name=name).exclude(pk=flow.pk).exists():
            raise Conflict(f"A flow named '{name}' already exists in namespace '{flow.namespace.name}'.")
        changed["name"] = [flow.name, name]
        flow.name = name
    if description is not None and description != flow.description:
        flow.description, changed["description"] = description, True
    if tags is not None and list(tags) != flow.tags:
        flow.tags, changed["tags"] = list(tags), list(tags)
    flow.updated_by = actor
    flow.save()
    audit_record(
        actor=actor,
        action="flow.update",
        resource_type="flow",
        resource_id=flow.pk,
        namespace=flow.namespace,
        summary=changed,
    )
    return flow


@transaction.atomic
def flow_restore(*, actor: Account, flow: Flow, revision: int) -> Flow:
    """Write the source of an earlier revision as a new revision."""
    ensure_role(actor, flow.namespace, Role.EDITOR)
    old = flow.revisions.filter(number=revision).first()
    if old is None:
        raise NotFound(f"Revision {revision} of flow '{flow.name}' not found.")
    return flow_update(actor=actor, flow=flow, source=old.source)


@transaction.atomic
def flow_delete(*, actor: Account, flow: Flow, cancelled: int = 0) -> None:
    """Delete a flow; refused while one of its runs is live. Its ended runs keep their history.

    Cancelling the live runs first (`force`) is `executions.services.flow_delete`, which says
    in `cancelled` how many it cancelled, for the audit entry.
    """
    ensure_role(actor, flow.namespace, Role.EDITOR)
    live = flow.executions.exclude(status__in=EXECUTION_END_STATUSES).count()
    if live:
        raise Conflict(f"Flow '{flow.name}' has {live} running execution(s); delete with force to cancel them.")
    audit_record(
        actor=actor,
        action="flow.delete",
        resource_type="flow",
        resource_id=flow.pk,
        namespace=flow.namespace,
        summary={"name": flow.name, "cancelled": cancelled},
    )
    flow.delete()
