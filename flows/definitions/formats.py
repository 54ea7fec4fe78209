"""Format detection and the top level of each format.

- **nodes** (FlowRunner): a top-level `nodes` mapping (node id → node), optional
  `metadata{name, description, version, tags, labels}`.
- **tasks** (workflowdev, Kestra-like): a top-level `tasks` list, with `name`, `namespace`,
  `description`, `inputs`, `variables`, `timeout`, `timeoutPolicy`, `errors`, `triggers`.
- **kestra**: Kestra's own YAML (`id`, `namespace`, `tasks` of `{id, type: io.kestra..., ...}`
  with properties inline), mapped to Millrace's plugins by `kestra`.

Both accept `inputs`, `variables`, `timeout`, `timeoutPolicy`, `triggers`, `tags` and
`labels`, so the two dialects share one execution model. Unknown top-level keys are
problems: a misspelt `task:` must not silently produce an empty flow.
"""

from __future__ import annotations

from typing import Any

from flows.definitions import fields
from flows.definitions.concurrency import concurrency
from flows.definitions.fields import type_name
from flows.definitions.ir import ERRORS, FINALLY, MAIN, Block, CompiledFlow, FlowFormat
from flows.definitions.kestra import is_kestra, kestra_flow
from flows.definitions.outputs import flow_outputs
from flows.definitions.problems import Problems, key_text
from flows.definitions.steps import StepParser

_COMMON_KEYS = {"inputs", "variables", "timeout", "timeoutPolicy", "triggers", "tags", "labels", "outputs"}
TASKS_KEYS = _COMMON_KEYS | {"name", "id", "namespace", "description", "version", "tasks", "errors", "concurrency"}
TASKS_KEYS |= {"finally"}
NODES_KEYS = _COMMON_KEYS | {"metadata", "nodes"}
_METADATA_KEYS = {"name", "description", "version", "tags", "labels", "concurrency"}


def detect_format(data: Any) -> FlowFormat | None:
    """`nodes` if the top level has a `nodes` key, `tasks` if it has `tasks` (`kestra` when its
    tasks are Kestra's: `kestra.is_kestra`), else None.

    A document with both keys is ambiguous: None, and `build_flow` reports it.
    """
    if not isinstance(data, dict):
        return None
    has_nodes, has_tasks = "nodes" in data, "tasks" in data
    if has_nodes == has_tasks:
        return None
    if has_nodes:
        return FlowFormat.NODES
    return FlowFormat.KESTRA if is_kestra(data) else FlowFormat.TASKS


def build_flow(problems: Problems, data: Any) -> CompiledFlow | None:
    """The IR of a loaded document; None when not even the format can be told."""
    if data is None:
        problems.add((), "the definition is empty", "empty")
        return None
    if not isinstance(data, dict):
        problems.add((), f"a flow definition must be a mapping, not {type_name(data)}", "not_mapping")
        return None
    data = {key_text(key): value for key, value in data.items()}
    kind = detect_format(data)
    if kind is None:
        if "nodes" in data:
            problems.add(
                (), "use either 'nodes' (FlowRunner format) or 'tasks' (workflowdev format), not both", "format"
            )
        else:
            problems.add((), "no 'tasks' list (workflowdev format) or 'nodes' mapping (FlowRunner format)", "format")
        return None
    if kind == FlowFormat.KESTRA:
        data, flow = kestra_flow(problems, data)
    else:
        flow = _tasks_flow(problems, data) if kind == FlowFormat.TASKS else _nodes_flow(problems, data)
    _common(problems, data, flow)
    flow.reindex()
    return flow


def _common(problems: Problems, data: dict[str, Any], flow: CompiledFlow) -> None:
    flow.inputs = fields.inputs(problems, data.get("inputs"), ("inputs",))
    flow.variables = fields.mapping(problems, data.get("variables"), ("variables",), "variables")
    flow.timeout = fields.duration(problems, data.get("timeout"), ("timeout",))
    flow.timeout_policy = fields.timeout_policy(problems, data.get("timeoutPolicy"), ("timeoutPolicy",))
    flow.triggers = fields.triggers(problems, data.get("triggers"), ("triggers",))
    flow.outputs = flow_outputs(problems, data.get("outputs"), ("outputs",))
    if "labels" in data:  # nodes flows may write them in `metadata` instead
        flow.labels = fields.labels(problems, data["labels"], ("labels",))
    if "tags" in data:
        flow.tags = _tags(problems, data["tags"], ("tags",))


def _tags(problems: Problems, value: Any, path: tuple[str, ...]) -> list[str]:
    if isinstance(value, list) and all(isinstance(tag, str) for tag in value):
        return list(value)
    problems.add(path, "tags must be a list of strings", "invalid_type")
    return []


def _tasks_flow(problems: Problems, data: dict[str, Any]) -> CompiledFlow:
    fields.unknown_keys(problems, data, TASKS_KEYS, (), "a tasks-format flow")
    if "name" in data and "id" in data and data["name"] != data["id"]:
        problems.add(("id",), "give either 'name' or 'id', not both", "conflict")
    parser = StepParser(problems)
    return CompiledFlow(
        format=FlowFormat.TASKS,
        name=fields.text(problems, data, "name" if "name" in data or "id" not in data else "id", ()),
        description=fields.text(problems, data, "description", ()),
        version=fields.text(problems, data, "version", ()),
        namespace=fields.text(problems, data, "namespace", ()) or None,
        main=parser.block(data.get("tasks"), ("tasks",), MAIN, None),
        errors=parser.block(data.get("errors"), ("errors",), ERRORS, None, required=False),
        finally_=parser.block(data.get("finally"), ("finally",), FINALLY, None, required=False),
        concurrency=concurrency(problems, data.get("concurrency"), ("concurrency",)),
    )


def _nodes_flow(problems: Problems, data: dict[str, Any]) -> CompiledFlow:
    fields.unknown_keys(problems, data, NODES_KEYS, (), "a nodes-format flow")
    metadata = fields.mapping(problems, data.get("metadata"), ("metadata",), "metadata")
    fields.unknown_keys(problems, metadata, _METADATA_KEYS, ("metadata",), "metadata")
    flow = CompiledFlow(
        format=FlowFormat.NODES,
        name=fields.text(problems, metadata, "name", ("metadata",)),
        description=fields.text(problems, metadata, "description", ("metadata",)),
        version=fields.text(problems, metadata, "version", ("metadata",)),
    )
    if "tags" in metadata:
        flow.tags = _tags(problems, metadata["tags"], ("metadata", "tags"))
    flow.concurrency = concurrency(problems, metadata.get("concurrency"), ("metadata", "concurrency"))
    if "labels" in data and "labels" in metadata:
        problems.add(("metadata", "labels"), "give labels either at the top level or in metadata, not both", "conflict")
    flow.labels = fields.labels(problems, metadata.get("labels"), ("metadata", "labels"))
    nodes = data.get("nodes")
    if not isinstance(nodes, dict) or not nodes:
        what = "empty" if isinstance(nodes, dict) else type_name(nodes)
        problems.add(("nodes",), f"nodes must be a non-empty mapping of node id → node, not {what}", "invalid_type")
        return flow
    parser = StepParser(problems)
    steps = [parser.node(key_text(key), raw, ("nodes", key_text(key))) for key, raw in nodes.items()]
    flow.main = Block(MAIN, [step for step in steps if step is not None])
    ids = [key_text(key) for key in nodes]
    flow.start = "start" if "start" in ids else ids[0]
    return flow
