"""Kestra's flow format (`id`, `namespace`, `tasks` of `{id, type: io.kestra..., <properties>}`) → the IR.

A Kestra flow runs unchanged when each of its task types maps to a Millrace plugin or control
construct (`TYPES`, plus every plugin that lists the Kestra type among its `aliases`), its
properties are ones that mapping takes, and its Pebble expressions read the same in Jinja (a few
are rewritten: `PEBBLE_REWRITES`; the ones that cannot run are problems: `PEBBLE_UNMAPPED`).
Everything else is a problem naming the type or property, with its line: a flow that runs
differently from what its author wrote would be worse than one refused. `docs/kestra.md` has
the table.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connectors.registry import get_plugin
from flows.definitions import fields
from flows.definitions.concurrency import concurrency
from flows.definitions.durations import parse_duration
from flows.definitions.fields import is_template, type_name
from flows.definitions.ir import ERRORS, FINALLY, MAIN, CompiledFlow, FlowFormat, Step
from flows.definitions.kestra_scripts import (  # KESTRA_PY and SHIM_FILE are re-exported
    KESTRA_PY,  # noqa: F401
    SHIM_FILE,  # noqa: F401
    before_commands,
    python_files,
    python_script_after,
)
from flows.definitions.pebble import translate_templates
from flows.definitions.problems import Path, Problems, format_path, key_text
from flows.definitions.steps import TASK_KEYS, StepParser

PREFIX = "io.kestra."
CORE = "io.kestra.plugin.core."
TOP_KEYS = {
    *("id", "namespace", "description", "labels", "inputs", "variables", "tasks", "errors", "finally"),
    *("triggers", "outputs", "concurrency", "timeout", "disabled", "revision"),
}
#: Keys every Kestra task may carry besides its properties.
TASK_COMMON = {"id", "type", "description", "retry", "timeout", "allowFailure", "disabled"}
#: Properties about where a script runs (a container, a task runner): Millrace runs scripts in
#: the worker's own sandboxed process, so they are accepted and have no effect.
RUNNER_PROPERTIES = frozenset({"containerImage", "taskRunner", "warningOnStdErr", "docker", "pullPolicy"})

Props = dict[str, tuple[Any, Path]]  # property → (value, where it is written)
Translate = Callable[[Props, Problems], Props]


def _renamed(names: dict[str, str]) -> Translate:
    def translate(props: Props, problems: Problems) -> Props:
        return {names.get(key, key): entry for key, entry in props.items()}

    return translate


def _wrapped(key: str, output: str) -> Translate:
    """Return's `format`, OutputValues' `values`: the echo's value `{output: ...}`, read as
    `outputs.<task>.<output>` as in Kestra."""

    def translate(props: Props, problems: Problems) -> Props:
        if key not in props:
            return {}
        value, where = props[key]
        return {"value": ({output: value}, where)}

    return translate


@dataclass(frozen=True)
class KestraType:
    """How one Kestra type runs: the Millrace plugin, the properties it takes, their translation."""

    target: str
    props: frozenset[str]
    translate: Translate = field(default=_renamed({}))
    ignored: frozenset[str] = frozenset()


def _http(props: Props, problems: Problems) -> Props:
    out = _renamed({"uri": "url"})(props, problems)
    if "body" in out:
        out["body_format"] = ("raw", out["body"][1])
    if "formData" in out:
        out["body"] = out.pop("formData")
        out["body_format"] = ("form", out["body"][1])
    if "contentType" in out:
        value, where = out.pop("contentType")
        headers = out.get("headers", ({}, where))[0]
        if not isinstance(headers, dict):
            problems.add(where, "contentType cannot be merged into headers given as an expression", "kestra")
        else:
            out["headers"] = ({**headers, "Content-Type": value}, where)
    if "allowFailed" in out:
        value, where = out.pop("allowFailed")
        out["fail_on_status"] = (not value if isinstance(value, bool) else value, where)
    if "auth" in out:
        out.update(_auth(*out.pop("auth"), problems))
    return out


def _auth(value: Any, where: Path, problems: Problems) -> Props:
    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "BASIC" and set(value) <= {"type", "username", "password"}:
        return {
            "basic_auth_username": (value.get("username", ""), where),
            "basic_auth_password": (value.get("password", ""), where),
        }
    if kind == "BEARER" and set(value) <= {"type", "token"}:
        return {"bearer_token": (value.get("token", ""), where)}
    problems.add(where, "auth must be {type: BASIC, username, password} or {type: BEARER, token}", "kestra")
    return {}


def _for_each(props: Props, problems: Problems) -> Props:
    """`values` may be a list or, as Kestra's docs often write it, the JSON text of one."""
    out = _renamed({"values": "items", "concurrencyLimit": "concurrency"})(props, problems)
    value, where = out.get("items", (None, ()))
    if isinstance(value, str) and not is_template(value):
        with contextlib.suppress(ValueError):  # not JSON: the parser says what items must be
            out["items"] = (json.loads(value), where)
    return out


def _ttl(props: Props, problems: Problems) -> Props:
    out = dict(props)
    if "ttl" in out:
        value, where = out["ttl"]
        try:
            out["ttl"] = (round(parse_duration(value)), where)
        except ValueError as exc:
            problems.add(where, f"invalid ttl: {exc}", "invalid_duration")
    return out


def _labels_property(props: Props, problems: Problems) -> Props:
    """The Labels task's `labels`, a map or a list of `{key, value}` as the flow's own."""
    if "labels" not in props:
        return {}
    value, where = props["labels"]
    return {"labels": (_labels(value), where)}


def _frozen(*names: str) -> frozenset[str]:
    return frozenset(names)


_SCRIPT = _frozen("env", "inputFiles", "outputFiles", "namespaceFiles", "interpreter")
TYPES: dict[str, KestraType] = {
    f"{CORE}log.Log": KestraType("util.log", _frozen("message", "level")),
    f"{CORE}debug.Return": KestraType("util.echo", _frozen("format"), _wrapped("format", "value")),
    f"{CORE}output.OutputValues": KestraType("util.echo", _frozen("values"), _wrapped("values", "values")),
    f"{CORE}http.Request": KestraType(
        "http.request",
        _frozen("uri", "method", "headers", "body", "contentType", "formData", "allowFailed", "auth"),
        _http,
    ),
    f"{CORE}http.Download": KestraType(
        "http.download", _frozen("uri", "method", "headers", "body"), _renamed({"uri": "url"})
    ),
    f"{CORE}flow.If": KestraType("flow.if", _frozen("condition", "then", "else")),
    f"{CORE}flow.Switch": KestraType("flow.switch", _frozen("value", "cases", "defaults")),
    f"{CORE}flow.Parallel": KestraType(
        "flow.parallel", _frozen("tasks", "concurrent"), _renamed({"concurrent": "concurrency"})
    ),
    f"{CORE}flow.Sequential": KestraType("flow.sequential", _frozen("tasks")),
    f"{CORE}flow.ForEach": KestraType(
        "flow.forEach",
        _frozen("values", "concurrencyLimit", "tasks"),
        _for_each,
    ),
    f"{CORE}flow.Pause": KestraType("flow.pause", _frozen()),
    f"{CORE}flow.Sleep": KestraType("util.sleep", _frozen("duration")),
    f"{CORE}flow.Subflow": KestraType(
        "flow.subflow", _frozen("namespace", "flowId", "inputs", "wait"), _renamed({"flowId": "flow"})
    ),
    f"{CORE}flow.Fail": KestraType("flow.fail", _frozen("errorMessage"), _renamed({"errorMessage": "message"})),
    f"{CORE}execution.Labels": KestraType("execution.labels", _frozen("labels"), _labels_property),
    f"{CORE}storage.Split": KestraType(
        "file.split", _frozen("from", "lines", "rows", "separator"), _renamed({"rows": "lines"})
    ),
    f"{CORE}kv.Set": KestraType("kv.set", _frozen("key", "value", "ttl"), _ttl),
    f"{CORE}kv.Get": KestraType("kv.get", _frozen("key")),
    f"{CORE}kv.Delete": KestraType("kv.delete", _frozen("key")),
    "io.kestra.plugin.scripts.python.Script": KestraType(
        "script.python", _SCRIPT | {"script"}, python_files, RUNNER_PROPERTIES
    ),
    "io.kestra.plugin.scripts.python.Commands": KestraType(
        "script.shell", _SCRIPT | {"commands", "beforeCommands"}, python_files, RUNNER_PROPERTIES
    ),
    "io.kestra.plugin.scripts.shell.Commands": KestraType(
        "script.shell", _SCRIPT | {"commands", "beforeCommands", "failFast"}, before_commands, RUNNER_PROPERTIES
    ),
    "io.kestra.plugin.scripts.shell.Script": KestraType(
        "script.shell", _SCRIPT | {"script", "beforeCommands", "failFast"}, before_commands, RUNNER_PROPERTIES
    ),
}
#: A Python Script with `beforeCommands` runs in a shell (`_python_script_after`).
_PYTHON_SCRIPT_AFTER = KestraType(
    "script.shell", _SCRIPT | {"script", "beforeCommands"}, python_script_after, RUNNER_PROPERTIES
)
#: Kestra types with no Millrace equivalent, and why (a clearer word than "unknown type").
REFUSED = {
    f"{CORE}flow.WorkingDirectory": "tasks do not share a working directory: pass files as outputFiles/inputFiles",
    f"{CORE}flow.Dag": "use the nodes format for a graph of tasks",
    f"{CORE}flow.LoopUntil": "loops that wait on a condition are not supported",
    f"{CORE}flow.EachSequential": "deprecated in Kestra: use io.kestra.plugin.core.flow.ForEach",
    f"{CORE}flow.EachParallel": "deprecated in Kestra: use io.kestra.plugin.core.flow.ForEach with concurrencyLimit",
    f"{CORE}flow.ForEachItem": "use io.kestra.plugin.core.flow.ForEach over the rows",
}
_STORAGE = f"{CORE}storage."
_STORAGE_REFUSED = (
    "of Kestra's internal-storage tasks only Write, Concat, Size, Split, Delete and PurgeCurrentExecutionFiles"
    " are mapped (file.write, file.concat, file.size, file.split, file.delete, file.purge)"
)
#: A Pause with a delay resumes by itself: a sleep.
_TIMED_PAUSE = KestraType(
    "util.sleep", _frozen("delay", "pauseDuration"), _renamed({"delay": "duration", "pauseDuration": "duration"})
)


def kestra_type(kind: str) -> KestraType | None:
    """The mapping of a Kestra type: `TYPES`, else a plugin that lists it among its aliases."""
    if kind in TYPES:
        return TYPES[kind]
    plugin = get_plugin(kind) if kind.startswith(PREFIX) else None
    if plugin is None or plugin.control:
        return None
    return KestraType(plugin.id, frozenset(plugin.input_schema.get("properties", {})), ignored=RUNNER_PROPERTIES)


def is_kestra(data: dict[str, Any]) -> bool:
    """Kestra's shape: `tasks` holding an `io.kestra...` type, and no task written the tasks-format
    way (`name`, or `properties`), which lets workflowdev flows keep using Kestra aliases."""
    tasks = [
        task
        for key in ("tasks", "errors", "finally")
        if isinstance(data.get(key), list)
        for task in data[key]
        if isinstance(task, dict)
    ]
    typed = any(isinstance(task.get("type"), str) and task["type"].startswith(PREFIX) for task in tasks)
    return typed and not any("name" in task or "properties" in task for task in tasks)


class KestraStepParser(StepParser):
    """Parses Kestra tasks: maps each type and its inline properties, then builds the step as a
    tasks-format one, so that control constructs, retry and timeouts work exactly the same."""

    def task(self, raw: Any, path: Path, parent_id: str | None) -> Step | None:
        if not isinstance(raw, dict):
            self.problems.add(
                path, f"a task must be a mapping with 'id' and 'type', not {type_name(raw)}", "invalid_type"
            )
            return None
        raw = {key_text(key): value for key, value in raw.items()}
        if raw.get("disabled") is True:  # Kestra skips a disabled task
            return None
        kind = raw.get("type")
        spec = self._spec(kind, path)
        if kind == f"{CORE}flow.Pause" and ("delay" in raw or "pauseDuration" in raw):
            spec = _TIMED_PAUSE
        if kind == "io.kestra.plugin.scripts.python.Script" and "beforeCommands" in raw:
            spec = _PYTHON_SCRIPT_AFTER
        if spec is None:
            return None
        props: Props = {}
        for key, value in raw.items():
            if key in TASK_COMMON or key in spec.ignored:
                continue
            if key in spec.props:
                props[key] = (value, (*path, key))
            else:
                self.problems.add((*path, key), f"unknown property '{key}' for {kind}", "unknown_key")
        if "disabled" in raw and not isinstance(raw["disabled"], bool):
            self.problems.add((*path, "disabled"), "'disabled' must be true or false", "invalid_type")
        mapped = spec.translate(props, self.problems)
        common = {key: raw[key] for key in ("id", "description", "timeout", "allowFailure") if key in raw}
        common["retry"] = _retry(raw.get("retry"))
        common["type"] = spec.target
        lines = self.problems.source_map.lines
        for key, (_, where) in mapped.items():  # a renamed property points at the line it is written on
            if (*path, key) not in lines and where in lines:
                lines[(*path, key)] = lines[where]
        values = {key: value for key, (value, _) in mapped.items()}
        # control constructs keep their structure inline, as Kestra writes it; plugins take `properties`
        built = {**common, **values} if spec.target in STRUCTURE_TARGETS else {**common, "properties": values}
        name = fields.text(self.problems, built, "id", path, required=True)
        step = self._step(name or format_path(path), built, path, "properties", TASK_KEYS, parent_id)
        step.inputs_source = path
        for key, (_, where) in mapped.items():
            if key in step.inputs:
                step.input_sources[key] = where
        return step

    def _spec(self, kind: Any, path: Path) -> KestraType | None:
        where = (*path, "type")
        if not isinstance(kind, str) or not kind:
            self.problems.add(
                where, "'type' is required (a Kestra type such as io.kestra.plugin.core.log.Log)", "missing"
            )
            return None
        spec = None if kind in REFUSED else kestra_type(kind)
        if spec is None and (kind in REFUSED or kind.startswith(_STORAGE)):
            self.problems.add(
                where, f"Kestra type '{kind}' is not supported: {REFUSED.get(kind, _STORAGE_REFUSED)}", "unknown_plugin"
            )
            return None
        if spec is None:
            self.problems.add(
                where, f"unknown Kestra type '{kind}' (docs/kestra.md lists the mapped types)", "unknown_plugin"
            )
        return spec


#: Millrace types whose structure (child task lists) the parser reads inline.
STRUCTURE_TARGETS = frozenset({"flow.if", "flow.switch", "flow.parallel", "flow.sequential", "flow.forEach"})


def _retry(value: Any) -> Any:
    """Kestra's exponential `delayFactor` is Millrace's `backoff`."""
    if isinstance(value, dict) and "delayFactor" in value and "backoff" not in value:
        return {("backoff" if key == "delayFactor" else key): item for key, item in value.items()}
    return value


def _labels(value: Any) -> Any:
    """Kestra writes labels as a map or as a list of `{key, value}`."""
    if isinstance(value, list) and all(isinstance(item, dict) and set(item) == {"key", "value"} for item in value):
        return {item["key"]: item["value"] for item in value}
    return value


def _inputs(value: Any) -> Any:
    """Kestra inputs are required unless they say otherwise (a default satisfies it), and a JSON
    input's default is JSON text, read as the value it writes."""
    if not isinstance(value, list):
        return value
    declared = []
    for item in value:
        if isinstance(item, dict):
            item = {"required": True, **{key: entry for key, entry in item.items() if key != "displayName"}}
            default = item.get("defaults")
            if str(item.get("type", "")).upper() == "JSON" and isinstance(default, str) and not is_template(default):
                with contextlib.suppress(ValueError):  # not JSON: kept as the text it is
                    item["defaults"] = json.loads(default)
        declared.append(item)
    return declared


def _trigger(problems: Problems, item: Any, path: Path) -> Any:
    """A Kestra trigger in Millrace's words: `disabled`, and a Flow trigger's conditions."""
    if not isinstance(item, dict):
        return item
    item = {key_text(key): value for key, value in item.items()}
    if "disabled" in item:
        item["enabled"] = not item.pop("disabled") if isinstance(item["disabled"], bool) else item.pop("disabled")
    kind = item.get("type")
    if isinstance(kind, str) and kind.startswith(PREFIX) and kind.rsplit(".", 1)[-1] == "Flow":
        for key, conditions in (
            ("conditions", item.pop("conditions", None)),
            ("preconditions", item.pop("preconditions", None)),
        ):
            if conditions is not None:
                item.update(_flow_conditions(problems, key, conditions, (*path, key)))
    return item


_EXECUTION_FLOW = {
    "io.kestra.plugin.core.condition.ExecutionFlow",
    "io.kestra.plugin.core.condition.ExecutionFlowCondition",
}
_EXECUTION_STATUS = {
    "io.kestra.plugin.core.condition.ExecutionStatus",
    "io.kestra.plugin.core.condition.ExecutionStatusCondition",
}


def _flow_conditions(problems: Problems, key: str, value: Any, path: Path) -> dict[str, Any]:
    """`conditions: [ExecutionFlow{namespace, flowId}, ExecutionStatus{in}]` or
    `preconditions: {flows: [{namespace, flowId, states}]}` → `flow`, `namespace`, `statuses`."""
    out: dict[str, Any] = {}
    if key == "preconditions":
        flows = value.get("flows") if isinstance(value, dict) else None
        if not (isinstance(flows, list) and len(flows) == 1 and isinstance(flows[0], dict) and set(value) == {"flows"}):
            problems.add(
                path,
                "preconditions must name exactly one upstream flow: {flows: [{namespace, flowId, states}]}",
                "kestra",
            )
            return out
        upstream = flows[0]
        out = {"flow": upstream.get("flowId"), "namespace": upstream.get("namespace")}
        if "states" in upstream:
            out["statuses"] = upstream["states"]
        return {k: v for k, v in out.items() if v is not None}
    if not isinstance(value, list):
        problems.add(path, "conditions must be a list", "invalid_type")
        return out
    for index, condition in enumerate(value):
        kind = condition.get("type") if isinstance(condition, dict) else None
        if kind in _EXECUTION_FLOW:
            out.update({"flow": condition.get("flowId"), "namespace": condition.get("namespace")})
        elif kind in _EXECUTION_STATUS:
            out["statuses"] = condition.get("in")
        else:
            problems.add(
                (*path, index), f"condition type {kind!r} is not supported (ExecutionFlow, ExecutionStatus)", "kestra"
            )
    return {k: v for k, v in out.items() if v is not None}


def kestra_flow(problems: Problems, data: dict[str, Any]) -> tuple[dict[str, Any], CompiledFlow]:
    """The IR of a Kestra flow, and its top level in the words the shared fields parser reads."""
    fields.unknown_keys(problems, data, TOP_KEYS, (), "a Kestra flow")
    if data.get("disabled") is True:
        problems.add(("disabled",), "a disabled flow cannot be saved to run: remove 'disabled'", "kestra")
    data = translate_templates(problems, data)
    shared = dict(data)
    shared.pop("disabled", None)
    shared.pop("revision", None)
    if "labels" in shared:
        shared["labels"] = _labels(shared["labels"])
    if "inputs" in shared:
        shared["inputs"] = _inputs(shared["inputs"])
    if isinstance(shared.get("triggers"), list):
        shared["triggers"] = [_trigger(problems, item, ("triggers", i)) for i, item in enumerate(shared["triggers"])]
    parser = KestraStepParser(problems)
    flow = CompiledFlow(
        format=FlowFormat.KESTRA,
        name=fields.text(problems, data, "id", (), required=True),
        description=fields.text(problems, data, "description", ()),
        namespace=fields.text(problems, data, "namespace", ()) or None,
        main=parser.block(data.get("tasks"), ("tasks",), MAIN, None),
        errors=parser.block(data.get("errors"), ("errors",), ERRORS, None, required=False),
        finally_=parser.block(data.get("finally"), ("finally",), FINALLY, None, required=False),
        concurrency=concurrency(problems, data.get("concurrency"), ("concurrency",)),
    )
    if not flow.main.steps and isinstance(data.get("tasks"), list) and data["tasks"] and not problems:
        problems.add(("tasks",), "every task is disabled: a flow needs one to run", "missing")
    return shared, flow
