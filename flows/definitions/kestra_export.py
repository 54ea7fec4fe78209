"""A Millrace step in Kestra's words: the reverse of `kestra`'s type map, for `convert`.

Each function takes a step's inputs and returns the Kestra type and inline properties, or
adds to `reasons` what Kestra cannot say (a plugin with no Kestra type, an input the Kestra
type has no property for). Converting back with `kestra` gives a step that runs the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from connectors.registry import get_plugin
from flows.definitions.durations import parse_duration
from flows.definitions.fields import is_template
from flows.definitions.ir import Step
from flows.definitions.kestra import CORE
from flows.definitions.kestra_scripts import KESTRA_PY, SHIM_FILE

Exported = tuple[str, dict[str, Any]] | None


def seconds_text(seconds: float) -> str:
    """An ISO-8601 duration (`PT90S`) for a number of seconds."""
    return f"PT{seconds:g}S"


def _only(step: Step, reasons: list[str], allowed: set[str]) -> bool:
    extra = sorted(set(step.inputs) - allowed)
    if extra:
        reasons.append(f"task '{step.name}' ({step.type}): Kestra has no property for {', '.join(extra)}")
    return not extra


def _renamed(kind: str, names: dict[str, str]) -> Callable[[Step, list[str]], Exported]:
    def export(step: Step, reasons: list[str]) -> Exported:
        if not _only(step, reasons, set(names)):
            return None
        return kind, {names[key]: value for key, value in step.inputs.items()}

    return export


def _echo(step: Step, reasons: list[str]) -> Exported:
    value = step.inputs.get("value")
    if set(step.inputs) == {"value"} and isinstance(value, dict) and len(value) == 1:
        if "value" in value:
            return f"{CORE}debug.Return", {"format": value["value"]}
        if "values" in value:
            return f"{CORE}output.OutputValues", {"values": value["values"]}
    reasons.append(
        f"task '{step.name}' (util.echo): Kestra's Return outputs `value`: write the echo as value: {{value: ...}}"
    )
    return None


_HTTP_NAMES = {"url": "uri", "method": "method"}


def _http(step: Step, reasons: list[str]) -> Exported:
    inputs = dict(step.inputs)
    allowed = {"url", "method", "headers", "body", "body_format", "fail_on_status"}
    allowed |= {"basic_auth_username", "basic_auth_password", "bearer_token"}
    if not _only(step, reasons, allowed):
        return None
    props: dict[str, Any] = {_HTTP_NAMES[key]: inputs.pop(key) for key in ("url", "method") if key in inputs}
    headers = dict(inputs.pop("headers", {}) or {})
    body_format = inputs.pop("body_format", "json")
    if "body" in inputs:
        body = inputs.pop("body")
        if body_format == "form":
            props["formData"] = body
        elif body_format == "raw":
            props["body"] = body
        elif not is_template(json.dumps(body)):
            props["body"] = json.dumps(body)
            headers.setdefault("Content-Type", "application/json")
        else:
            reasons.append(f"task '{step.name}' (http.request): a JSON body holding expressions has no Kestra form")
            return None
    content_type = next((key for key in headers if key.lower() == "content-type"), None)
    if content_type is not None and "body" in props:
        props["contentType"] = headers.pop(content_type)
    if headers:
        props["headers"] = headers
    if "fail_on_status" in inputs:
        value = inputs.pop("fail_on_status")
        props["allowFailed"] = not value if isinstance(value, bool) else value
    if "bearer_token" in inputs:
        props["auth"] = {"type": "BEARER", "token": inputs.pop("bearer_token")}
    elif "basic_auth_username" in inputs or "basic_auth_password" in inputs:
        props["auth"] = {
            "type": "BASIC",
            "username": inputs.pop("basic_auth_username", ""),
            "password": inputs.pop("basic_auth_password", ""),
        }
    return f"{CORE}http.Request", props


def _sleep(step: Step, reasons: list[str]) -> Exported:
    if not _only(step, reasons, {"duration", "seconds"}):
        return None
    value = step.inputs.get("duration", step.inputs.get("seconds"))
    return f"{CORE}flow.Sleep", {"duration": seconds_text(value) if isinstance(value, int | float) else value}


def _subflow(step: Step, reasons: list[str]) -> Exported:
    if "flowId" in step.inputs:
        reasons.append(f"task '{step.name}' (flow.subflow): Kestra names the subflow by its id, not a UUID")
        return None
    if not _only(step, reasons, {"flow", "flowName", "namespace", "inputs", "wait"}):
        return None
    props = {("flowId" if key in ("flow", "flowName") else key): value for key, value in step.inputs.items()}
    return f"{CORE}flow.Subflow", props


def _kv_set(step: Step, reasons: list[str]) -> Exported:
    if not _only(step, reasons, {"key", "value", "ttl"}):
        return None
    props = dict(step.inputs)
    if isinstance(props.get("ttl"), int):
        props["ttl"] = seconds_text(props["ttl"])
    return f"{CORE}kv.Set", props


def _script(step: Step, reasons: list[str]) -> Exported:
    allowed = {"env", "inputFiles", "outputFiles", "namespaceFiles", "interpreter", "script", "commands", "failFast"}
    if not _only(step, reasons, allowed | {"timeout"}):
        return None
    props = dict(step.inputs)
    if "timeout" in props and not _timeout_folded(step, props, reasons):
        return None
    files = props.get("inputFiles")
    shim = isinstance(files, dict) and files.get(SHIM_FILE) == KESTRA_PY
    if shim:
        props["inputFiles"] = {name: text for name, text in files.items() if name != SHIM_FILE}
        if not props["inputFiles"]:
            del props["inputFiles"]
    if step.type == "script.python":
        return "io.kestra.plugin.scripts.python.Script", props
    if shim and "commands" in props:
        return "io.kestra.plugin.scripts.python.Commands", props
    return f"io.kestra.plugin.scripts.shell.{'Script' if 'script' in props else 'Commands'}", props


def _timeout_folded(step: Step, props: dict[str, Any], reasons: list[str]) -> bool:
    """The script's `timeout` property as Kestra's task-level `timeout` (the one Kestra has): both
    bound the run, so a task timeout as short or shorter makes the property redundant."""
    value = props.pop("timeout")
    try:
        seconds = parse_duration(value)
    except ValueError:  # an expression: Kestra's task timeout takes a literal duration
        reasons.append(f"task '{step.name}' ({step.type}): Kestra's task timeout must be a literal duration")
        return False
    if step.timeout is None:
        props["timeout"] = seconds_text(seconds)
    elif seconds < step.timeout:
        reasons.append(
            f"task '{step.name}' ({step.type}): its timeout property ({seconds_text(seconds)}) is shorter than its"
            f" task timeout ({seconds_text(step.timeout)}); Kestra has one timeout: keep the shorter as the task's"
        )
        return False
    return True


_SQL = {"jdbc:postgresql:": "postgresql", "jdbc:mysql:": "mysql", "jdbc:mariadb:": "mariadb"}


def _sql(step: Step, reasons: list[str]) -> Exported:
    url = step.inputs.get("url")
    kind = next((name for prefix, name in _SQL.items() if isinstance(url, str) and url.startswith(prefix)), None)
    if kind is None:
        reasons.append(f"task '{step.name}' (sql.query): Kestra needs a literal jdbc:postgresql/mysql/mariadb URL")
        return None
    return f"io.kestra.plugin.jdbc.{kind}.Query", dict(step.inputs)


EXPORTS: dict[str, Callable[[Step, list[str]], Exported]] = {
    "util.log": _renamed(f"{CORE}log.Log", {"message": "message", "level": "level"}),
    "util.echo": _echo,
    "util.sleep": _sleep,
    "http.request": _http,
    "http.download": _renamed(
        f"{CORE}http.Download", {"url": "uri", "method": "method", "headers": "headers", "body": "body"}
    ),
    "flow.pause": _renamed(f"{CORE}flow.Pause", {}),
    "flow.subflow": _subflow,
    "flow.fail": _renamed(f"{CORE}flow.Fail", {"message": "errorMessage"}),
    "execution.labels": _renamed(f"{CORE}execution.Labels", {"labels": "labels"}),
    "kv.set": _kv_set,
    "kv.get": _renamed(f"{CORE}kv.Get", {"key": "key"}),
    "kv.delete": _renamed(f"{CORE}kv.Delete", {"key": "key"}),
    "script.python": _script,
    "script.shell": _script,
    "sql.query": _sql,
}
#: Control constructs: the Kestra type and the Millrace input → Kestra property renames.
CONTROL_EXPORTS = {
    "flow.if": (f"{CORE}flow.If", {}),
    "flow.switch": (f"{CORE}flow.Switch", {}),
    "flow.parallel": (f"{CORE}flow.Parallel", {"concurrency": "concurrent"}),
    "flow.sequential": (f"{CORE}flow.Sequential", {}),
    "flow.forEach": (f"{CORE}flow.ForEach", {"items": "values", "concurrency": "concurrencyLimit"}),
}


def kestra_task(step: Step, reasons: list[str]) -> Exported:
    """The Kestra type and properties of a plugin step (None, with a reason, when there is none)."""
    export = EXPORTS.get(step.type)
    if export is not None:
        return export(step, reasons)
    plugin = get_plugin(step.type)
    alias = next((name for name in plugin.aliases if name.startswith("io.kestra.")), None) if plugin else None
    if alias is None:
        reasons.append(f"task '{step.name}' ({step.type}) has no Kestra type")
        return None
    return alias, dict(step.inputs)
