"""Compile and validate definitions: the public entry points of `flows.definitions`.

Validation reports every problem with its path and line: YAML limits and syntax (fatal,
nothing else can be checked), then structure (types, required keys, durations, cron,
timezones, input declarations), then semantics (plugins and their input schemas, `next`
targets, unreachable nodes, duplicate names, unknown secrets).

Inputs are checked against the plugin's JSON schema before they are rendered, so a value
that is a template (a string containing `{{`, `{%` or `${`) is not checked: it becomes
its real value — possibly a number, list or object — only at run time, when the engine
checks the rendered inputs again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from connectors.registry import Plugin, get_plugin
from flows.definitions.fields import is_template
from flows.definitions.formats import build_flow
from flows.definitions.ir import BLOCK_TYPES, CompiledFlow, Step
from flows.definitions.loader import YamlLimits, load_yaml
from flows.definitions.problems import DefinitionError, Path, Problem, Problems
from flows.definitions.references import check_secrets
from flows.definitions.steps import CHILD_KEYS, STRUCTURE_KEYS

PluginLookup = Callable[[str], type[Plugin] | None]
#: A check that needs more than the source (the database, the network policy): saving runs
#: the subflow-reference and outbound-address checks (URLs, database and SMTP hosts) this way,
#: so their problems carry lines too.
#: The engine does not: a saved flow is judged by the policy of the moment it runs.
ExtraCheck = Callable[[CompiledFlow, Problems], None]


def compile_definition(
    source: str | bytes,
    *,
    plugin_lookup: PluginLookup = get_plugin,
    known_secrets: set[str] | None = None,
    limits: YamlLimits | None = None,
    checks: Sequence[ExtraCheck] = (),
) -> CompiledFlow:
    """The IR of a valid definition; raises `DefinitionError` listing every problem.

    `known_secrets`: the secret names the flow may use (None: references are not checked).
    `limits`: YAML limits (default: from settings).
    `checks`: more checks of the built flow, run after the others (see `ExtraCheck`).
    """
    flow, problems = _compile(source, plugin_lookup, known_secrets, limits, checks)
    if problems or flow is None:
        raise DefinitionError(problems)
    return flow


def validate_definition(
    source: str | bytes,
    *,
    plugin_lookup: PluginLookup = get_plugin,
    known_secrets: set[str] | None = None,
    limits: YamlLimits | None = None,
    checks: Sequence[ExtraCheck] = (),
) -> list[Problem]:
    """Every problem of a definition, in source order; empty when it is valid."""
    return _compile(source, plugin_lookup, known_secrets, limits, checks)[1]


def _compile(
    source: str | bytes,
    plugin_lookup: PluginLookup,
    known_secrets: set[str] | None,
    limits: YamlLimits | None,
    checks: Sequence[ExtraCheck] = (),
) -> tuple[CompiledFlow | None, list[Problem]]:
    try:
        loaded = load_yaml(source, limits)
    except DefinitionError as exc:
        return None, exc.problems
    problems = Problems(loaded.source_map)
    problems.extend(loaded.problems)
    flow = build_flow(problems, loaded.data)
    if flow is not None:
        check_flow(flow, problems, plugin_lookup=plugin_lookup, known_secrets=known_secrets)
        for check in checks:
            check(flow, problems)
    return flow, problems.sorted()


def check_flow(
    flow: CompiledFlow,
    problems: Problems,
    *,
    plugin_lookup: PluginLookup = get_plugin,
    known_secrets: set[str] | None = None,
) -> None:
    """The semantic checks on a built IR; adds to `problems`."""
    _check_names(flow, problems)
    for step in flow.steps():
        _check_plugin(step, problems, plugin_lookup)
    if flow.is_graph:
        _check_graph(flow, problems)
    if known_secrets is not None:
        check_secrets(flow, known_secrets, problems)


def _check_names(flow: CompiledFlow, problems: Problems) -> None:
    """Names are unique across the whole flow (nesting and `errors` included): `outputs.<name>`."""
    names: dict[str, Step] = {}
    ids: dict[str, Step] = {}
    for step in flow.steps():
        first = names.get(step.name)
        if first is not None:
            what = "node id" if flow.is_graph and flow.parent(first.id) is None else "task name"
            problems.add(step.source, f"duplicate {what} '{step.name}' (first at {first.path})", "duplicate_name")
        elif step.id in ids:
            problems.add(step.source, f"duplicate step id '{step.id}' (first at {ids[step.id].path})", "duplicate_name")
        names.setdefault(step.name, step)
        ids.setdefault(step.id, step)


def _check_plugin(step: Step, problems: Problems, plugin_lookup: PluginLookup) -> None:
    if not step.type:  # missing `type` is already reported
        return
    plugin = plugin_lookup(step.type)
    if plugin is None:
        problems.add((*step.source, "type"), f"unknown plugin type '{step.type}'", "unknown_plugin")
        return
    for problem in plugin.input_problems(step.inputs):
        if step.type in BLOCK_TYPES and _checked_by_parser(problem):
            continue
        path = _input_path(step, problem["path"])
        if path is None:  # the failing value is a template: it is checked once rendered
            continue
        problems.add(path, f"invalid input for {step.type}: {problem['message']}", "invalid_input")


def _checked_by_parser(problem: dict[str, str]) -> bool:
    """Schema complaints about a control step's structure, which the parser checks itself.

    Child task lists left the inputs for child blocks; `items` and `concurrency` were checked
    when parsed, and so was the presence of `condition`, `value` and `items`: reporting them
    twice helps nobody. (The type of a `condition` or `value` is still the schema's to check.)
    """
    root = problem["path"].split(".", 1)[0]
    if root in CHILD_KEYS or root in {"items", "concurrency"}:
        return True
    return any(problem["message"] == f"'{key}' is a required property" for key in STRUCTURE_KEYS)


def _input_path(step: Step, dotted: str) -> Path | None:
    """The source path of a schema problem's dotted path; None if it is at a template value."""
    parts = [part for part in dotted.split(".") if part]
    if not parts:
        return step.inputs_source
    value: Any = step.inputs
    path: Path = step.input_sources.get(parts[0], (*step.inputs_source, parts[0]))
    for index, part in enumerate(parts):
        if isinstance(value, list) and part.isdigit():
            value = value[int(part)] if int(part) < len(value) else None
            if index:
                path = (*path, int(part))
        else:
            value = value.get(part) if isinstance(value, dict) else None
            if index:
                path = (*path, part)
        if is_template(value):
            return None
    return path


def _check_graph(flow: CompiledFlow, problems: Problems) -> None:
    """`next` targets exist; every node is reachable from the entry (through any outcome)."""
    nodes = {step.id: step for step in flow.main.steps}
    for step in nodes.values():
        for outcome, target in step.next.items():
            if target not in nodes:
                where = (*step.source, "next", outcome)
                if where not in problems.source_map.lines:  # `next: <id>` written as a plain string
                    where = (*step.source, "next")
                known = ", ".join(sorted(nodes)[:10]) + (", ..." if len(nodes) > 10 else "")
                problems.add(
                    where, f"next target '{target}' is not a node of this flow (nodes: {known})", "unknown_target"
                )
    entry = flow.entry()
    if entry is None:
        return
    reached, pending = {entry.id}, [entry.id]
    while pending:
        for target in nodes[pending.pop()].next.values():
            if target in nodes and target not in reached:
                reached.add(target)
                pending.append(target)
    for node_id, step in nodes.items():
        if node_id not in reached:
            problems.add(step.source, f"node '{node_id}' is unreachable from '{entry.id}'", "unreachable")


__all__ = ["ExtraCheck", "PluginLookup", "check_flow", "compile_definition", "validate_definition"]
