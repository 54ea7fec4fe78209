"""Key-value plugins: read, write and delete a namespace's KV entries through the run context."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

from connectors.registry import Plugin, PluginContext, Result, register

_KEY = {"type": "string", "minLength": 1, "maxLength": 255, "description": "Key in the flow's namespace."}


@register
class KvGet(Plugin):
    id = "kv.get"
    name = "KV get"
    category = "kv"
    description = "Reads a key of the namespace's key-value store; outputs `default` when the key is missing."
    input_schema = {
        "type": "object",
        "properties": {"key": _KEY, "default": {"description": "Value when the key is missing (default null)."}},
        "required": ["key"],
    }
    output_schema = {
        "type": "object",
        "properties": {"key": {"type": "string"}, "value": {"description": "The stored value, or `default`."}},
        "required": ["key", "value"],
    }
    documentation = """\
Reads a value from the namespace's key-value store: state that outlives one execution (the
last processed id, a cursor, a counter). The store is the namespace's own: flows of other
namespaces cannot read it.

- `key`: the key (1 to 255 characters).
- `default`: the value to output when the key is missing or has expired (default `null`).

Outputs `key` and `value`.
"""
    example = """\
- name: last-seen
  type: kv.get
  properties:
    key: orders/last-id
    default: 0
"""

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        value = ctx.kv_get(inputs["key"])
        return Result.success({"key": inputs["key"], "value": inputs.get("default") if value is None else value})


@register
class KvSet(Plugin):
    id = "kv.set"
    takes_secrets = False  # a stored value is read back in clear
    name = "KV set"
    category = "kv"
    description = "Stores a JSON value under a key of the namespace, optionally expiring after `ttl` seconds."
    input_schema = {
        "type": "object",
        "properties": {
            "key": _KEY,
            "value": {"description": "Any JSON value."},
            "ttl": {"type": "integer", "minimum": 1, "description": "Seconds until the entry expires."},
        },
        "required": ["key", "value"],
    }
    output_schema = {"type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"]}
    documentation = """\
Stores a JSON value under a key of the namespace's key-value store, replacing what was there.
The API (`/api/v1/kv/{namespace}/{key}`) and the console read and edit the same entries.

- `key`: the key (1 to 255 characters).
- `value`: any JSON value, up to `MILLRACE_KV_MAX_VALUE_BYTES` as JSON (1 MiB by default).
- `ttl`: seconds until the entry expires (kept forever without it).

Output `key`. Secrets cannot be stored: a stored value is read back in clear.
"""
    example = """\
- name: remember
  type: kv.set
  properties:
    key: orders/last-id
    value: 1042
    ttl: 86400
"""

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        size = len(json.dumps(inputs["value"]).encode())
        limit = settings.MILLRACE_KV_MAX_VALUE_BYTES
        if size > limit:
            return Result.failed(f"The value is {size} bytes as JSON; the KV limit is {limit}.", code="KV_TOO_LARGE")
        ctx.kv_set(inputs["key"], inputs["value"], ttl=inputs.get("ttl"))
        return Result.success({"key": inputs["key"]})


@register
class KvDelete(Plugin):
    id = "kv.delete"
    name = "KV delete"
    category = "kv"
    description = "Deletes a key of the namespace's key-value store; `deleted` says whether it existed."
    input_schema = {"type": "object", "properties": {"key": _KEY}, "required": ["key"]}
    output_schema = {
        "type": "object",
        "properties": {"key": {"type": "string"}, "deleted": {"type": "boolean"}},
        "required": ["key", "deleted"],
    }
    documentation = """\
Deletes a key of the namespace's key-value store. Deleting a missing key is not an error.

- `key`: the key.

Outputs `key` and `deleted` (whether the key existed).
"""
    example = """\
- name: forget
  type: kv.delete
  properties:
    key: orders/last-id
"""

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        return Result.success({"key": inputs["key"], "deleted": ctx.kv_delete(inputs["key"])})
