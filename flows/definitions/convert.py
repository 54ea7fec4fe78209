"""A compiled flow written out in any of the three formats: `nodes`, `tasks` or `kestra`.

    text = convert(compile_definition(source), "kestra")   # or ConversionError(reasons)

The result compiles back to a flow that runs the same steps with the same inputs. What a
format cannot say is a reason, never a silent loss: a graph with conditional routes, error
routes or cycles is no task list; a task list with `errors` or `finally` is no graph; a plugin
with no Kestra type is no Kestra task. One thing differs by design: a flow without declared
`outputs` answers, as a graph, the last node's outputs, and as a task list each task's.
"""

from __future__ import annotations

from typing import Any

import yaml

from connectors.registry import get_plugin
from flows.definitions.ir import (
    DEFAULT,
    IF,
    SWITCH,
    CompiledFlow,
    FlowFormat,
    FlowInput,
    RetryPolicy,
    Step,
    TimeoutPolicy,
    Trigger,
    TriggerType,
)
from flows.definitions.kestra import CORE, STRUCTURE_TARGETS
from flows.definitions.kestra_export import CONTROL_EXPORTS, kestra_task, seconds_text
from flows.definitions.pebble import to_pebble
from flows.definitions.validate import compile_definition

FORMATS = tuple(FlowFormat)


class ConversionError(ValueError):
    """The flow cannot be written in the asked format; `reasons` says what cannot."""

    def __init__(self, target: str, reasons: list[str]) -> None:
        self.reasons = reasons
        super().__init__(f"The flow cannot be written in the {target} format: " + "; ".join(reasons))


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (scripts, SQL) as `|` blocks, as a person writes them."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and not value.endswith((" ", "\t")) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def convert(flow: CompiledFlow, target: str | FlowFormat, *, namespace: str | None = None) -> str:
    """The YAML of `flow` in `target` (a `FlowFormat` value); `namespace` fills a Kestra flow's."""
    target = FlowFormat(target)
    reasons: list[str] = []
    writer = {FlowFormat.TASKS: _tasks, FlowFormat.NODES: _nodes, FlowFormat.KESTRA: _kestra}[target]
    document = writer(flow, reasons, namespace)
    if reasons:
        raise ConversionError(target.value, reasons)
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


# --- the shared parts -------------------------------------------------------------------------


def _linear(flow: CompiledFlow, reasons: list[str]) -> list[Step]:
    """A graph's nodes in the order they run, when that order is a straight line."""
    if not flow.is_graph:
        return list(flow.main.steps)
    order: list[Step] = []
    seen: set[str] = set()
    step = flow.entry()
    while step is not None:
        if step.id in seen:
            reasons.append(f"node '{step.id}' is reached again (a cycle): a task list runs each task once")
            break
        seen.add(step.id)
        order.append(step)
        routes = {key: value for key, value in step.next.items() if key != DEFAULT}
        if routes:
            reasons.append(f"node '{step.id}' routes on {', '.join(sorted(routes))}: a task list has no routes")
        if step.type in (IF, SWITCH) and not step.child_blocks():
            reasons.append(f"node '{step.id}' ({step.type}) only chooses a route: a task list needs its branches")
        plugin = get_plugin(step.type)
        fill = plugin.previous_outputs_input if plugin else None
        if fill and fill not in step.inputs:
            reasons.append(f"node '{step.id}' takes the previous node's outputs as '{fill}': write it out first")
        target = step.next.get(DEFAULT)
        step = flow.get_step(target) if target else None
    for node in flow.main.steps:
        if node.id not in seen and not reasons:
            reasons.append(f"node '{node.id}' is not on the path from the start node")
    return order


def _input(declared: FlowInput, *, kestra: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"id": declared.id, "type": declared.type.value}
    if declared.description:
        item["description"] = declared.description
    if declared.values:
        item["values"] = list(declared.values)
    if declared.item_type is not None:
        item["itemType"] = declared.item_type.value
    if declared.required or kestra:  # Kestra's inputs are required unless they say otherwise
        item["required"] = declared.required
    if declared.has_default:
        item["defaults"] = declared.default
    return item


def _retry(policy: RetryPolicy | None, *, kestra: bool) -> dict[str, Any] | None:
    if policy is None:
        return None
    if kestra:
        if policy.backoff not in (1.0, 2.0):
            retry: dict[str, Any] = {"type": "exponential", "delayFactor": policy.backoff}
        else:
            retry = {"type": "constant" if policy.backoff == 1 else "exponential"}
        retry.update(maxAttempt=policy.max_attempts, interval=seconds_text(policy.delay))
        if policy.max_delay is not None:
            retry["maxInterval"] = seconds_text(policy.max_delay)
        return retry
    retry = {"maxAttempts": policy.max_attempts, "delay": seconds_text(policy.delay), "backoff": policy.backoff}
    if policy.max_delay is not None:
        retry["maxDelay"] = seconds_text(policy.max_delay)
    return retry


def _trigger(trigger: Trigger, reasons: list[str], *, kestra: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"id" if kestra else "name": trigger.name}
    if kestra:
        item["type"] = f"{CORE}trigger.{trigger.type.value.capitalize()}"
        if not trigger.enabled:
            item["disabled"] = True
    else:
        item["type"] = trigger.type.value
        if not trigger.enabled:
            item["enabled"] = False
    if trigger.inputs:
        item["inputs"] = trigger.inputs
    if trigger.type == TriggerType.SCHEDULE:
        item.update(cron=trigger.cron, timezone=trigger.timezone)
        if trigger.recover_missed != "LAST":
            item["recoverMissedSchedules"] = trigger.recover_missed
    elif trigger.type == TriggerType.WEBHOOK:
        if trigger.key:
            item["key"] = trigger.key
    elif kestra:
        if trigger.source_flow_id:
            reasons.append(f"trigger '{trigger.name}' names its flow by UUID: Kestra names it by id")
        upstream = {"namespace": trigger.source_namespace, "flowId": trigger.source_flow, "states": trigger.statuses}
        item["preconditions"] = {"flows": [{key: value for key, value in upstream.items() if value}]}
    else:
        source = {"sourceFlowId": trigger.source_flow_id, "flow": trigger.source_flow}
        item.update({key: value for key, value in source.items() if value})
        if trigger.source_namespace:
            item["namespace"] = trigger.source_namespace
        item["statuses"] = trigger.statuses
    return item


def _top(flow: CompiledFlow, reasons: list[str], *, kestra: bool) -> dict[str, Any]:
    """Inputs, variables, outputs, triggers, labels, timeouts: the keys both task formats share."""
    top: dict[str, Any] = {}
    if flow.labels:
        top["labels"] = dict(flow.labels)
    if flow.inputs:
        top["inputs"] = [_input(declared, kestra=kestra) for declared in flow.inputs]
    if flow.variables:
        top["variables"] = flow.variables
    if flow.timeout is not None:
        top["timeout"] = seconds_text(flow.timeout)
    if flow.timeout_policy != TimeoutPolicy.TIME_OUT_WF:
        if kestra:
            reasons.append(f"timeoutPolicy {flow.timeout_policy.value} has no Kestra form")
        top["timeoutPolicy"] = flow.timeout_policy.value
    if flow.triggers:
        top["triggers"] = [_trigger(trigger, reasons, kestra=kestra) for trigger in flow.triggers]
    if flow.outputs:
        top["outputs"] = [
            {"id": out.id, "type": out.type.value, "value": out.value}
            | ({"description": out.description} if out.description else {})
            for out in flow.outputs
        ]
    return top


def _common(step: Step, *, kestra: bool) -> dict[str, Any]:
    item: dict[str, Any] = {}
    if step.description:
        item["description"] = step.description
    retry = _retry(step.retry, kestra=kestra)
    if retry is not None:
        item["retry"] = retry
    if step.timeout is not None:
        item["timeout"] = seconds_text(step.timeout)
    if step.allow_failure:
        item["allowFailure"] = True
    return item


def _structure(step: Step, blocks: Any) -> dict[str, Any]:
    """A control step's child task lists, inline as both task formats and Kestra write them."""
    out: dict[str, Any] = {}
    if step.type == SWITCH:
        out["cases"] = {case: blocks(block.steps) for case, block in step.cases.items()}
        if DEFAULT in step.blocks:
            out["default"] = blocks(step.blocks[DEFAULT].steps)
        return out
    for role, block in step.blocks.items():
        out[role] = blocks(block.steps)
    return out


# --- tasks and nodes --------------------------------------------------------------------------


def _task(step: Step) -> dict[str, Any]:
    item: dict[str, Any] = {"name": step.name, "type": step.type}
    if step.type in STRUCTURE_TARGETS:
        item.update(dict(step.inputs))
        item.update(_structure(step, lambda steps: [_task(child) for child in steps]))
    elif step.inputs:
        item["properties"] = dict(step.inputs)
    item.update(_common(step, kestra=False))
    return item


def _tasks(flow: CompiledFlow, reasons: list[str], namespace: str | None) -> dict[str, Any]:
    document: dict[str, Any] = {"name": flow.name}
    if flow.namespace or namespace:
        document["namespace"] = flow.namespace or namespace
    for key in ("description", "version"):
        if getattr(flow, key):
            document[key] = getattr(flow, key)
    if flow.tags:
        document["tags"] = list(flow.tags)
    if flow.concurrency is not None:
        document["concurrency"] = {"limit": flow.concurrency.limit, "behavior": flow.concurrency.behavior.value}
    document.update(_top(flow, reasons, kestra=False))
    document["tasks"] = [_task(step) for step in _linear(flow, reasons)]
    for key, block in (("errors", flow.errors), ("finally", flow.finally_)):
        if block.steps:
            document[key] = [_task(step) for step in block.steps]
    return document


def _nodes(flow: CompiledFlow, reasons: list[str], namespace: str | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": flow.name}
    for key in ("description", "version"):
        if getattr(flow, key):
            metadata[key] = getattr(flow, key)
    if flow.tags:
        metadata["tags"] = list(flow.tags)
    if flow.concurrency is not None:
        metadata["concurrency"] = {"limit": flow.concurrency.limit, "behavior": flow.concurrency.behavior.value}
    for key, block in (("errors", flow.errors), ("finally", flow.finally_)):
        if block.steps:
            reasons.append(f"'{key}' tasks have no place in a graph of nodes")
    document: dict[str, Any] = {"metadata": metadata, **_top(flow, reasons, kestra=False)}
    steps = flow.main.steps
    nodes: dict[str, Any] = {}
    for index, step in enumerate(steps):
        if step.child_blocks():
            reasons.append(f"task '{step.name}' ({step.type}) holds tasks: a graph node runs one step")
        node = {key: value for key, value in _task(step).items() if key != "name"}
        if "properties" in node:
            node["params"] = node.pop("properties")
        if flow.is_graph:
            routes = dict(step.next)
        else:
            routes = {DEFAULT: steps[index + 1].name} if index + 1 < len(steps) else {}
        if routes:
            node["next"] = routes[DEFAULT] if set(routes) == {DEFAULT} else routes
        nodes[step.name] = node
    if flow.is_graph and flow.start and flow.start != steps[0].id:
        nodes = {flow.start: nodes.pop(flow.start), **nodes}
    document["nodes"] = nodes
    return document


# --- Kestra -----------------------------------------------------------------------------------


def _kestra_task(step: Step, reasons: list[str]) -> dict[str, Any]:
    item: dict[str, Any] = {"id": step.name}
    if step.type in CONTROL_EXPORTS:
        kind, names = CONTROL_EXPORTS[step.type]
        item["type"] = kind
        item.update({names.get(key, key): value for key, value in dict(step.inputs).items()})
        structure = _structure(step, lambda steps: [_kestra_task(child, reasons) for child in steps])
        if "default" in structure:
            structure["defaults"] = structure.pop("default")
        item.update(structure)
    else:
        exported = kestra_task(step, reasons)
        if exported is not None:
            item["type"], props = exported
            item.update(props)
    item.update(_common(step, kestra=True))
    return item


def _kestra(flow: CompiledFlow, reasons: list[str], namespace: str | None) -> dict[str, Any]:
    if not (flow.namespace or namespace):
        reasons.append("a Kestra flow needs a namespace")
    document: dict[str, Any] = {"id": flow.name, "namespace": flow.namespace or namespace}
    if flow.description:
        document["description"] = flow.description
    for key in ("version", "tags"):
        if getattr(flow, key):
            reasons.append(f"'{key}' has no Kestra form (use labels)")
    if flow.concurrency is not None:
        document["concurrency"] = {"limit": flow.concurrency.limit, "behavior": flow.concurrency.behavior.value}
    document.update(_top(flow, reasons, kestra=True))
    document["tasks"] = [_kestra_task(step, reasons) for step in _linear(flow, reasons)]
    for key, block in (("errors", flow.errors), ("finally", flow.finally_)):
        if block.steps:
            document[key] = [_kestra_task(step, reasons) for step in block.steps]
    http_ids = {step.name for step in flow.steps() if step.type == "http.request"}
    return to_pebble(document, http_ids)


def convert_source(source: str, target: str | FlowFormat, *, namespace: str | None = None) -> str:
    """A saved definition's YAML in `target`: compiled as the engine would, then written out.

    Raises `DefinitionError` when the source no longer compiles (a plugin gone since it was
    saved) and `ConversionError` when `target` cannot express it.
    """
    return convert(compile_definition(source), target, namespace=namespace)
