"""Utility plugins: `util.log`, `util.echo`, `util.sleep` and the `fibo` CPU step."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_duration

from connectors.registry import Plugin, PluginContext, Result, Wait, WaitKind, register

# Log levels as FlowRunner names them; Kestra's spellings (upper case, TRACE, WARNING) are folded in.
_LEVELS = {"trace": "debug", "debug": "debug", "info": "info", "warn": "warn", "warning": "warn", "error": "error"}
FIBO_MAX_N = 10_000  # fib(10000) has 2,090 digits: still a JSON number any client can parse as text
FIBO_MAX_RECURSIVE_N = 35  # the naive recursion doubles per step: n=35 is seconds of CPU, n=45 would be minutes


@register
class Log(Plugin):
    id = "util.log"
    name = "Log"
    category = "util"
    description = "Writes a message to the execution log at the given level and outputs it."
    aliases = ("io.kestra.plugin.core.log.Log",)
    input_schema = {
        "type": "object",
        "properties": {
            "message": {"description": "Text to log; any other value is logged as JSON."},
            "level": {
                "enum": [*_LEVELS, *(level.upper() for level in _LEVELS)],
                "default": "info",
                "description": "debug, info, warn or error (trace counts as debug, warning as warn).",
            },
        },
        "required": ["message"],
    }
    output_schema = {
        "type": "object",
        "properties": {"message": {"type": "string"}},
        "required": ["message"],
    }

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        message = inputs["message"]
        text = message if isinstance(message, str) else json.dumps(message)
        ctx.log(_LEVELS[inputs.get("level", "info").lower()], text)
        return Result.success({"message": text})


@register
class Echo(Plugin):
    id = "util.echo"
    name = "Echo"
    category = "util"
    description = "Outputs its `value` input unchanged, or all of its inputs when there is no `value`."
    input_schema = {"type": "object", "properties": {"value": {"description": "Any value to pass through."}}}
    output_schema = {"description": "The `value` input, or the whole inputs object."}

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        return Result.success(inputs["value"] if "value" in inputs else dict(inputs))


def duration_seconds(value: float | int | str) -> float:
    """Seconds from a number or a duration string (ISO 8601 `PT5S`, `P1DT2H`, or `HH:MM:SS`)."""
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        parsed = parse_duration(value.strip())
        if parsed is None:
            raise ValueError(f"'{value}' is not a duration (use seconds or ISO 8601 such as PT5S).")
        seconds = parsed.total_seconds()
    if seconds < 0:
        raise ValueError("A duration cannot be negative.")
    return seconds


@register
class Sleep(Plugin):
    id = "util.sleep"
    name = "Sleep"
    category = "util"
    description = "Waits for a duration without holding a worker: the step waits on a timer and the engine wakes it."
    aliases = ("io.kestra.plugin.core.flow.Sleep",)
    input_schema = {
        "type": "object",
        "properties": {
            "seconds": {
                "type": ["number", "string"],
                "minimum": 0,
                "description": "Seconds, or an ISO 8601 duration such as PT5S.",
            },
            "duration": {"type": "string", "description": "ISO 8601 duration such as PT5S (Kestra's name)."},
        },
        "oneOf": [{"required": ["seconds"]}, {"required": ["duration"]}],
    }
    output_schema = {
        "type": "object",
        "properties": {"slept": {"type": "number", "description": "Seconds slept."}},
        "required": ["slept"],
    }

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        try:
            seconds = self._seconds(inputs)
        except ValueError as error:
            return Result.failed(str(error), code="INVALID_INPUT")
        if seconds == 0:
            return Result.success({"slept": 0})
        until = timezone.now() + timedelta(seconds=seconds)
        return Result.waiting(Wait(WaitKind.TIMER, until=until, data={"seconds": seconds}))

    def resume(self, inputs: dict[str, Any], ctx: PluginContext, payload: Any) -> Result:
        return Result.success({"slept": self._seconds(inputs)})

    @staticmethod
    def _seconds(inputs: dict[str, Any]) -> float:
        return duration_seconds(inputs["seconds"] if "seconds" in inputs else inputs["duration"])


def fibonacci_iterative(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def fibonacci_recursive(n: int) -> int:
    """Deliberately naive: the benchmark wants a CPU-bound step whose cost grows with n."""
    return n if n < 2 else fibonacci_recursive(n - 1) + fibonacci_recursive(n - 2)


@register
class Fibo(Plugin):
    id = "fibo"
    name = "Fibonacci"
    category = "util"
    description = (
        f"Computes fibonacci(n), iteratively (n up to {FIBO_MAX_N}) or by naive recursion "
        f"(n up to {FIBO_MAX_RECURSIVE_N}); a CPU-bound step for benchmarks."
    )
    input_schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer", "minimum": 0, "maximum": FIBO_MAX_N},
            "recursive": {"type": "boolean", "default": False},
        },
        "required": ["n"],
        "if": {"required": ["recursive"], "properties": {"recursive": {"const": True}}},
        "then": {"properties": {"n": {"maximum": FIBO_MAX_RECURSIVE_N}}},
    }
    output_schema = {
        "type": "object",
        "properties": {"n": {"type": "integer"}, "value": {"type": "integer"}},
        "required": ["n", "value"],
    }

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        n = inputs["n"]
        value = fibonacci_recursive(n) if inputs.get("recursive", False) else fibonacci_iterative(n)
        return Result.success({"n": n, "value": value})
