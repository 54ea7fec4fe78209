"""Huginn agents that use the network: WebsiteAgent (fetch and extract) and PostAgent (send).

Both go through the catalog's `http.request` plugin, so the outbound network policy,
timeouts and size caps of every other HTTP call apply.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from bs4 import BeautifulSoup
from soupsieve import SelectorSyntaxError

from agents.types import AgentError, AgentRun, AgentType, json_path, register, run_plugin, truthy
from connectors.registry import get_plugin
from core import jsonlimits

MODES = ("all", "on_change", "merge")
SEEN_LIMIT = 500  # digests of emitted rows kept in memory for `mode: on_change`
_TEXT_VALUES = (".", "text()", "string(.)", "normalize-space(.)", "")


def _http(run: AgentRun, inputs: dict[str, Any]) -> dict[str, Any]:
    """The `http.request` plugin (its network policy, caps and timeouts); the agent's log says what it asked."""
    plugin = get_plugin("http.request")
    assert plugin is not None
    response = run_plugin(plugin, {key: value for key, value in inputs.items() if value is not None}, run.ctx)
    run.log(f"{inputs.get('method', 'GET')} {inputs['url']} answered {response['status_code']}.")
    return response


def _column(values: Any) -> list[Any]:
    return values if isinstance(values, list) else [values]


def _rows(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Columns of extracted values zipped into rows, as Huginn does; counts must agree."""
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        counts = ", ".join(f"{name}: {len(values)}" for name, values in columns.items())
        raise AgentError(f"Extracted fields have different counts ({counts}).")
    count = lengths.pop() if lengths else 0
    return [{name: values[index] for name, values in columns.items()} for index in range(count)]


def extract_json(body: Any, extract: dict[str, Any]) -> list[dict[str, Any]]:
    if isinstance(body, str | bytes):
        try:
            body = jsonlimits.loads(body)  # bounded depth, no NaN/Infinity
        except ValueError:
            raise AgentError("The response is not JSON.") from None
    return _rows({name: _column(json_path(body, spec["path"])) for name, spec in extract.items()})


def _node_value(node: Any, value: str) -> Any:
    """Huginn's XPath `value`, the common cases: `@attr`, or the text (`.`, `string(.)`, `normalize-space(.)`)."""
    value = value.strip()
    if value.startswith("@"):
        return node.get(value[1:])
    if value not in _TEXT_VALUES:
        raise AgentError(f"Unsupported value '{value}': use '@attribute' or '.' (text).")
    text = node.get_text()
    return " ".join(text.split()) if value.startswith("normalize-space") else text.strip()


def extract_html(body: Any, extract: dict[str, Any]) -> list[dict[str, Any]]:
    soup = BeautifulSoup(body if isinstance(body, str) else str(body), "html.parser")
    columns = {}
    for name, spec in extract.items():
        try:
            nodes = soup.select(spec["css"])
        except SelectorSyntaxError as exc:
            raise AgentError(f"Bad CSS selector for '{name}': {exc}") from None
        columns[name] = [_node_value(node, str(spec.get("value", "."))) for node in nodes]
    return _rows(columns)


def _digest(row: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()[:32]


@register
class WebsiteAgent(AgentType):
    """Fetches `url` and extracts rows: JSON by path (`data.items[*].title`) or HTML by CSS selector.

    `mode: on_change` emits only rows it has not emitted before (their digests live in memory);
    `merge` adds the extracted row to the incoming payload.
    """

    name = "Agents::WebsiteAgent"
    aliases = ("WebsiteAgent",)
    url_options = ("url",)

    def option_problems(self, options: dict[str, Any]) -> list[str]:
        problems = []
        if not isinstance(options.get("url"), str) or not options["url"]:
            problems.append("'url' is required")
        kind = options.get("type", "json")
        if kind not in ("json", "html"):
            problems.append("'type' must be 'json' or 'html'")
        if options.get("mode", "all") not in MODES:
            problems.append(f"'mode' must be one of {', '.join(MODES)}")
        extract = options.get("extract")
        key = "path" if kind == "json" else "css"
        if not isinstance(extract, dict) or not extract:
            problems.append("'extract' must be an object of field name to {" + key + "}")
        else:
            problems += [f"extract.{name} needs '{key}'" for name, spec in extract.items() if not _has(spec, key)]
        return problems

    def check(self, run: AgentRun, options: dict[str, Any]) -> None:
        self._fetch(run, options, None)

    def receive(self, run: AgentRun, options: dict[str, Any], payload: dict[str, Any]) -> None:
        self._fetch(run, options, payload)

    def _fetch(self, run: AgentRun, options: dict[str, Any], incoming: dict[str, Any] | None) -> None:
        response = _http(
            run,
            {"url": options["url"], "method": "GET", "headers": options.get("headers"),
             "timeout": options.get("timeout")},
        )  # fmt: skip
        extract = options["extract"]
        body = response["body"]
        rows = extract_json(body, extract) if options.get("type", "json") == "json" else extract_html(body, extract)
        mode = options.get("mode", "all")
        run.memory["last_status"] = response["status_code"]
        if mode == "on_change":
            seen = list(run.memory.get("seen", []))
            fresh = [row for row in rows if _digest(row) not in seen]
            run.memory["seen"] = (seen + [_digest(row) for row in fresh])[-SEEN_LIMIT:]
            rows = fresh
        for row in rows:
            run.emit({**incoming, **row} if mode == "merge" and incoming else row)


def _has(spec: Any, key: str) -> bool:
    return isinstance(spec, dict) and isinstance(spec.get(key), str) and bool(spec[key])


@register
class PostAgent(AgentType):
    """Sends a request to `post_url`: the incoming payload merged with `payload` (unless `no_merge`).

    `method` (post, get, put, patch, delete), `content_type` (json or form), `headers`;
    `emit_events: true` emits the response (`status`, `headers`, `body`).
    """

    name = "Agents::PostAgent"
    aliases = ("PostAgent",)
    url_options = ("post_url",)

    def option_problems(self, options: dict[str, Any]) -> list[str]:
        problems = []
        if not isinstance(options.get("post_url"), str) or not options["post_url"]:
            problems.append("'post_url' is required")
        if str(options.get("method", "post")).lower() not in ("post", "get", "put", "patch", "delete"):
            problems.append("'method' must be post, get, put, patch or delete")
        if options.get("content_type", "json") not in ("json", "form"):
            problems.append("'content_type' must be 'json' or 'form'")
        return problems

    def check(self, run: AgentRun, options: dict[str, Any]) -> None:
        self._send(run, options, dict(options.get("payload") or {}))

    def receive(self, run: AgentRun, options: dict[str, Any], payload: dict[str, Any]) -> None:
        outgoing = dict(options.get("payload") or {})
        if not truthy(options.get("no_merge", False)):
            outgoing = {**payload, **outgoing}
        self._send(run, options, outgoing)

    def _send(self, run: AgentRun, options: dict[str, Any], outgoing: dict[str, Any]) -> None:
        method = str(options.get("method", "post")).upper()
        inputs: dict[str, Any] = {"url": options["post_url"], "method": method, "headers": options.get("headers")}
        if method == "GET":
            inputs["params"] = {key: value for key, value in outgoing.items() if not isinstance(value, dict)}
        else:
            inputs["body"] = outgoing
            inputs["body_format"] = options.get("content_type", "json")
        response = _http(run, inputs)
        if truthy(options.get("emit_events", False)):
            run.emit({"status": response["status_code"], "headers": response["headers"], "body": response["body"]})
