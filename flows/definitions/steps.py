"""Tasks (tasks format) and nodes (nodes format) → `Step`s, with control constructs' blocks.

A task is `{name, type, properties, retry, timeout, description, allowFailure}`; a
node is `{type, params, next, retry, timeout, description, allowFailure}` (or
`allow_failure`). Control constructs nest task lists:
`flow.if` (`then`, `else`), `flow.switch` (`cases`, `default`), `flow.parallel` and
`flow.sequential` (`tasks`), `flow.forEach` (`items`, `concurrency`, `tasks`). Their
structure may be written in `properties`/`params` or, Kestra-style, on the task itself;
either way it leaves `inputs` and becomes child blocks, while `condition`, `value`,
`items` and `concurrency` stay in `inputs` for rendering and schema checks.
"""

from __future__ import annotations

import json
from typing import Any

from flows.definitions import fields
from flows.definitions.fields import is_template, type_name
from flows.definitions.ir import (
    BLOCK_TYPES,
    CONTROL_TYPES,
    DEFAULT,
    FOR_EACH,
    IF,
    PARALLEL,
    SEQUENTIAL,
    SWITCH,
    Block,
    Step,
)
from flows.definitions.problems import Path, Problems, format_path, key_text

TASK_KEYS = {"name", "id", "type", "properties", "retry", "timeout", "description", "allowFailure"}
NODE_KEYS = {"type", "params", "next", "retry", "timeout", "description", "allowFailure", "allow_failure"}
CHILD_KEYS = ("tasks", "then", "else", "cases", "default", "defaults")
# role → required, per block-holding control type ("cases" is the switch's mapping of blocks)
_CHILDREN: dict[str, dict[str, bool]] = {
    IF: {"then": True, "else": False},
    SWITCH: {"cases": True, "default": False},
    PARALLEL: {"tasks": True},
    SEQUENTIAL: {"tasks": True},
    FOR_EACH: {"tasks": True},
}
_REQUIRED_INPUT = {IF: "condition", SWITCH: "value", FOR_EACH: "items"}
#: Keys a block-holding control step must have, checked here (schemas need not repeat it).
STRUCTURE_KEYS = frozenset({*CHILD_KEYS, *_REQUIRED_INPUT.values()})


class StepParser:
    """Builds steps and blocks, adding every problem it meets to `problems`."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems

    def block(self, raw: Any, path: Path, block_id: str, parent_id: str | None, *, required: bool = True) -> Block:
        """A list of tasks. `required`: an empty or missing list is a problem."""
        if raw is None and not required:
            return Block(block_id)
        if not isinstance(raw, list):
            self.problems.add(path, f"must be a list of tasks, not {type_name(raw)}", "invalid_type")
            return Block(block_id)
        if not raw and required:
            self.problems.add(path, "must contain at least one task", "missing")
        steps = [self.task(item, (*path, index), parent_id) for index, item in enumerate(raw)]
        return Block(block_id, [step for step in steps if step is not None])

    def task(self, raw: Any, path: Path, parent_id: str | None) -> Step | None:
        if not isinstance(raw, dict):
            self.problems.add(
                path, f"a task must be a mapping with 'name' and 'type', not {type_name(raw)}", "invalid_type"
            )
            return None
        raw = {key_text(key): value for key, value in raw.items()}
        if "name" in raw and "id" in raw and raw["name"] != raw["id"]:
            self.problems.add((*path, "id"), "give either 'name' or 'id', not both", "conflict")
        name = fields.text(
            self.problems, raw, "name" if "name" in raw or "id" not in raw else "id", path, required=True
        )
        return self._step(name or format_path(path), raw, path, "properties", TASK_KEYS, parent_id)

    def node(self, node_id: str, raw: Any, path: Path) -> Step | None:
        if not isinstance(raw, dict):
            self.problems.add(path, f"a node must be a mapping with a 'type', not {type_name(raw)}", "invalid_type")
            return None
        raw = {key_text(key): value for key, value in raw.items()}
        step = self._step(node_id, raw, path, "params", NODE_KEYS, None, graph_node=True)
        step.next = self._next(raw.get("next"), (*path, "next"))
        return step

    def _step(
        self,
        name: str,
        raw: dict[str, Any],
        path: Path,
        inputs_key: str,
        allowed: set[str],
        parent_id: str | None,
        *,
        graph_node: bool = False,
    ) -> Step:
        kind = fields.text(self.problems, raw, "type", path, required=True)
        inputs_path = (*path, inputs_key)
        inputs = fields.mapping(self.problems, raw.get(inputs_key), inputs_path, f"'{inputs_key}'")
        sources: dict[str, Path] = {key: (*inputs_path, key) for key in inputs}
        for key, value in raw.items():
            if key in allowed:
                continue
            if kind not in CONTROL_TYPES:
                self.problems.add(
                    (*path, key), f"unknown key '{key}' (plugin inputs go under '{inputs_key}')", "unknown_key"
                )
            elif key in inputs:
                self.problems.add((*path, key), f"'{key}' is given both here and in '{inputs_key}'", "conflict")
            else:
                inputs[key], sources[key] = value, (*path, key)
        step = Step(
            id=f"{parent_id}.{name}" if parent_id else name,
            name=name,
            type=kind,
            inputs=inputs,
            description=fields.text(self.problems, raw, "description", path),
            retry=fields.retry(self.problems, raw.get("retry"), (*path, "retry")),
            timeout=fields.duration(self.problems, raw.get("timeout"), (*path, "timeout")),
            path=format_path(path),
            line=self.problems.source_map.line(path),
            source=path,
            inputs_source=inputs_path,
            input_sources=sources,
        )
        step.allow_failure = self._allow_failure(raw, path)
        if kind in BLOCK_TYPES:
            self._children(step, graph_node)
        return step

    def _allow_failure(self, raw: dict[str, Any], path: Path) -> bool:
        """`allowFailure` (a node may write `allow_failure`, FlowRunner's spelling): true or false."""
        keys = [key for key in ("allowFailure", "allow_failure") if key in raw]
        if len(keys) > 1:
            self.problems.add((*path, keys[1]), "give either 'allowFailure' or 'allow_failure', not both", "conflict")
        if not keys:
            return False
        value = raw[keys[0]]
        if not isinstance(value, bool):
            self.problems.add((*path, keys[0]), f"'{keys[0]}' must be true or false", "invalid_type")
            return False
        return value

    def _next(self, raw: Any, path: Path) -> dict[str, str]:
        """`next: <node id>` or `next: {<outcome>: <node id>}` → outcome → node id."""
        if raw is None:
            return {}
        if isinstance(raw, str):
            return {DEFAULT: raw}
        if not isinstance(raw, dict):
            self.problems.add(path, "next must be a node id or a mapping of outcome → node id", "invalid_type")
            return {}
        routes: dict[str, str] = {}
        for outcome, target in raw.items():
            if target is None:
                continue
            if isinstance(target, str) and target:
                routes[key_text(outcome)] = target
            else:
                self.problems.add(
                    (*path, key_text(outcome)),
                    f"next target must be a node id, not {type_name(target)}",
                    "invalid_type",
                )
        return routes

    def _children(self, step: Step, graph_node: bool) -> None:
        """Move a control step's nested task lists out of its inputs into child blocks.

        A graph node's `flow.if`/`flow.switch` may have no blocks at all: it then only emits
        its outcome (`true`/`false`, the case value) and its `next` routes on it.
        """
        roles = _CHILDREN[step.type]
        if graph_node:
            # The graph walks nodes by `next`, never a node's own task lists: a node holding
            # tasks would wait for them forever. Branches route on the outcome instead.
            nested = [key for key in CHILD_KEYS if key in step.inputs]
            for key in nested:
                self.problems.add(
                    step.input_sources[key],
                    f"a node cannot hold tasks ('{key}'): chain nodes with 'next' (flow.if and flow.switch "
                    "route on their outcome), or write the flow as a task list",
                    "unknown_key",
                )
            if step.type not in (IF, SWITCH):
                self.problems.add(
                    step.source,
                    f"{step.type} is not available as a node: it runs nested tasks, which only the tasks format has",
                    "invalid_value",
                )
            for key in nested:
                step.inputs.pop(key)
            roles = {}
        if "defaults" in step.inputs:  # Kestra's spelling for a switch
            if "default" in step.inputs:
                self.problems.add(step.input_sources["defaults"], "give either 'default' or 'defaults'", "conflict")
            else:
                step.inputs["default"] = step.inputs.pop("defaults")
                step.input_sources["default"] = step.input_sources.pop("defaults")
        for key in CHILD_KEYS:
            if key in step.inputs and key not in roles:
                self.problems.add(step.input_sources[key], f"'{key}' is not used by {step.type}", "unknown_key")
        for role, required in roles.items():
            where = step.input_sources.get(role, (*step.inputs_source, role))
            raw = step.inputs.pop(role, None)
            if raw is None:
                if required:
                    self.problems.add(where, f"{step.type} needs '{role}'", "missing")
            elif role == "cases":
                self._cases(step, raw, where)
            else:
                step.blocks[role] = self.block(raw, where, f"{step.id}:{role}", step.id)
        needed = _REQUIRED_INPUT.get(step.type)
        if needed and step.inputs.get(needed) is None:
            self.problems.add((*step.inputs_source, needed), f"{step.type} needs '{needed}'", "missing")
        if step.type == FOR_EACH:
            self._items(step)
        if step.type in (FOR_EACH, PARALLEL):
            step.concurrency = self._concurrency(step)

    def _cases(self, step: Step, raw: Any, path: Path) -> None:
        if not isinstance(raw, dict) or not raw:
            self.problems.add(path, "cases must be a non-empty mapping of value → list of tasks", "invalid_type")
            return
        for value, tasks in raw.items():
            case = key_text(value)
            step.cases[case] = self.block(tasks, (*path, case), f"{step.id}:case:{case}", step.id)

    def _items(self, step: Step) -> None:
        items = step.inputs.get("items")
        if items is None or isinstance(items, list) or is_template(items):
            return
        where = step.input_sources.get("items", (*step.inputs_source, "items"))
        try:
            if isinstance(items, str) and isinstance(json.loads(items), list):
                return
        except ValueError:
            pass
        self.problems.add(where, "items must be a list, a JSON list or a template expression", "invalid_type")

    def _concurrency(self, step: Step) -> int | None:
        """forEach: at least 1 (default 1). parallel: None (the default, or 0) means no limit."""
        value = step.inputs.get("concurrency")
        if value is None:
            return 1 if step.type == FOR_EACH else None
        lowest = 1 if step.type == FOR_EACH else 0
        if isinstance(value, int) and not isinstance(value, bool) and value >= lowest:
            return value or None
        where = step.input_sources.get("concurrency", (*step.inputs_source, "concurrency"))
        self.problems.add(where, f"concurrency must be a whole number of at least {lowest}", "invalid_value")
        return 1 if step.type == FOR_EACH else None
