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

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        return Result.success({"key": inputs["key"], "deleted": ctx.kv_delete(inputs["key"])})
