"""Kestra's Pebble expressions, read by Millrace's Jinja sandbox.

Most Pebble that Kestra flows use is Jinja already (`{{ inputs.x }}`, `{{ outputs.t.value }}`,
`| upper`, `| default('x')`, `{% if %}`, `secret('X')`, `kv('k')`). A few names differ and are
rewritten inside `{{ }}` and `{% %}` (`PEBBLE_REWRITES`, and back again when a flow is written
out in Kestra's format: `to_pebble`); a few have no Jinja counterpart here and are problems
with their line (`PEBBLE_UNMAPPED`), rather than a step that fails at run time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flows.definitions.problems import Path, Problems, key_text

HTTP_REQUEST = "io.kestra.plugin.core.http.Request"
_EXPRESSION = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
#: Pebble → Jinja, applied inside expressions (the order matters: longer names first).
PEBBLE_REWRITES: list[tuple[str, str]] = [
    (r"(?<![\w.])taskrun\.value\b", "item"),
    (r"(?<![\w.])taskrun\.iteration\b", "index"),
    (r"(?<![\w.])flow\.id\b", "execution.flow"),
    (r"(?<![\w.])flow\.namespace\b", "execution.namespace"),
    (r"(?<![\w.])execution\.startDate\b", "execution.startedAt"),
    (r"(?<![\w.])task\.id\b", "task.name"),
    (r"\|\s*(?:toJson|json)\b", "| tojson"),
]
#: Jinja → Pebble, for writing a flow out in Kestra's format.
JINJA_REWRITES: list[tuple[str, str]] = [
    (r"(?<![\w.])item\b", "taskrun.value"),
    (r"(?<![\w.])index\b", "taskrun.iteration"),
    (r"(?<![\w.])execution\.flow\b", "flow.id"),
    (r"(?<![\w.])execution\.namespace\b", "flow.namespace"),
    (r"(?<![\w.])execution\.startedAt\b", "execution.startDate"),
    (r"(?<![\w.])task\.name\b", "task.id"),
    (r"\|\s*tojson\b", "| toJson"),
]
#: Pebble functions, filters and names that do not run here, with the reason shown.
PEBBLE_UNMAPPED: list[tuple[str, str]] = [
    (r"(?<![\w.])now\s*\(", "now() (no clock function: use execution.startedAt or trigger.date)"),
    (r"\|\s*(?:date|dateAdd|timestamp\w*)\b", "the date filters (date, dateAdd, timestamp)"),
    (r"(?<![\w.])(?:render|renderOnce)\s*\(", "render() (expressions are rendered once)"),
    (r"(?<![\w.])read\s*\(", "read() (pass a file URI to a task instead)"),
    (r"(?<![\w.])(?:fromJson|fromIon|yaml)\s*\(", "fromJson()/yaml() (use the | fromjson filter)"),
    (r"(?<![\w.])(?:fileURI|fileExists|fileSize|isFileEmpty)\s*\(", "the file functions"),
    (r"(?<![\w.])(?:currentEachOutput|errorLogs|printContext|randomInt|randomPort|uuid|id)\s*\(", "that function"),
    (r"(?<![\w.])(?:parent|parents|labels|taskrun)\b", "parent/parents/labels/taskrun (only taskrun.value)"),
    (r"\|\s*(?:jq|yaml|toIon|slugify|number|chunk|keys|values|split|md5|sha1|sha512|substring\w*)\b", "that filter"),
    (r"\?\?", "the ?? operator (use | default(...))"),
]


def _in_expressions(text: str, change: Callable[[str], str]) -> str:
    return _EXPRESSION.sub(lambda match: change(match.group(0)), text)


def _apply(rules: list[tuple[str, str]], expression: str) -> str:
    for pattern, replacement in rules:
        expression = re.sub(pattern, replacement, expression)
    return expression


def _http_ids(value: Any, found: set[str]) -> set[str]:
    if isinstance(value, dict):
        if value.get("type") == HTTP_REQUEST and isinstance(value.get("id"), str):
            found.add(value["id"])
        for item in value.values():
            _http_ids(item, found)
    elif isinstance(value, list):
        for item in value:
            _http_ids(item, found)
    return found


def translate_templates(problems: Problems, data: dict[str, Any]) -> dict[str, Any]:
    """The document with its expressions in Jinja; each unmapped Pebble construct is a problem.

    An HTTP request's `outputs.<id>.code` becomes Millrace's `status_code`.
    """
    rules = [*PEBBLE_REWRITES]
    for task_id in sorted(_http_ids(data, set())):
        rules.append((rf"(outputs\.{re.escape(task_id)}\.)code\b", r"\1status_code"))

    def expression(text: str, path: Path) -> str:
        for pattern, what in PEBBLE_UNMAPPED:
            if re.search(pattern, _apply(PEBBLE_REWRITES, text)):
                problems.add(path, f"Pebble {what} is not supported here (see docs/kestra.md)", "pebble")
        return _apply(rules, text)

    def walk(value: Any, path: Path) -> Any:
        if isinstance(value, str):
            return _in_expressions(value, lambda text: expression(text, path))
        if isinstance(value, dict):
            return {
                key: item if key_text(key) == "description" else walk(item, (*path, key_text(key)))
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [walk(item, (*path, index)) for index, item in enumerate(value)]
        return value

    return walk(data, ())


def to_pebble(value: Any, http_ids: set[str]) -> Any:
    """Jinja expressions written back in Pebble's words (for a Kestra export)."""
    rules = [*JINJA_REWRITES]
    for task_id in sorted(http_ids):
        rules.append((rf"(outputs\.{re.escape(task_id)}\.)status_code\b", r"\1code"))
    if isinstance(value, str):
        return _in_expressions(value, lambda text: _apply(rules, text))
    if isinstance(value, dict):
        return {key: to_pebble(item, http_ids) for key, item in value.items()}
    if isinstance(value, list):
        return [to_pebble(item, http_ids) for item in value]
    return value
