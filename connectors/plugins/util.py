"""Utility plugins: `util.log`, `util.echo`, `util.sleep`, `util.hash` and the `fibo` CPU step.

`fibo` is the benchmark's step (bench/): flows may run it, but it is kept out of the catalog.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_duration

from connectors.plugins.fileinput import FILE_ERRORS, check_running, file_failure, open_input
from connectors.registry import Plugin, PluginContext, Result, Wait, WaitKind, register
from core.filerefs import PREFIX

# Log levels as FlowRunner names them; Kestra's spellings (upper case, TRACE, WARNING) are folded in.
_LEVELS = {"trace": "debug", "debug": "debug", "info": "info", "warn": "warn", "warning": "warn", "error": "error"}
FIBO_MAX_N = 10_000  # fib(10000) has 2,090 digits: still a JSON number any client can parse as text
FIBO_MAX_RECURSIVE_N = 35  # the naive recursion doubles per step: n=35 is seconds of CPU, n=45 would be minutes
HASH_ALGORITHMS = {"MD5": "md5", "SHA1": "sha1", "SHA256": "sha256", "SHA512": "sha512"}
HASH_CHUNK = 1024 * 1024


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
    documentation = """\
Writes `message` to the execution's log, where the API's log endpoints, the log stream and the
console show it with the task's name, and outputs the text it wrote.

- `message`: the text. Templates are rendered first (`Hello {{ inputs.who }}`); a value that is
  not text (a number, a list, an object) is written as JSON.
- `level`: `debug`, `info` (default), `warn` or `error`, in any case; Kestra's `TRACE` counts as
  debug and `WARNING` as warn.

Output `message`: the text as logged. Secrets the task used are masked in the log and the output.
"""
    example = """\
- name: hello
  type: util.log
  properties:
    message: Hello from Millrace
    level: info
"""

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
    documentation = """\
Passes a value through, so that later tasks (or the flow's outputs) can refer to it by this
task's name: handy to name an intermediate result or to shape one with templates.

- `value`: any value; it becomes the task's outputs as it is.
- Without `value`, all the task's properties together become its outputs.
"""
    example = """\
- name: settings
  type: util.echo
  properties:
    value:
      region: eu-west
      retries: 3
"""

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
    documentation = """\
Pauses the flow for a while. The step waits on a timer: no worker is held, and the engine
wakes the step when the time is up (a restart of Millrace in between does not lose it).

- `seconds`: a number of seconds, or an ISO 8601 duration such as `PT5M`.
- `duration`: an ISO 8601 duration (Kestra's name for it). Give one of the two.

A zero duration ends at once; a negative or malformed one fails the task. Output `slept`: the
seconds waited.
"""
    example = """\
- name: wait-for-the-import
  type: util.sleep
  properties:
    duration: PT30S
"""

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
    public = False  # the benchmark's CPU step (bench/): runnable, but no task for the catalog
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
    documentation = """\
The benchmark's CPU-bound step (see `bench/`), not listed in the catalog. Computes the `n`th
Fibonacci number, iteratively or, with `recursive: true`, by the naive recursion whose cost
doubles with each step of `n`.
"""
    example = """\
- name: cpu
  type: fibo
  properties:
    n: 10
"""

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        n = inputs["n"]
        value = fibonacci_recursive(n) if inputs.get("recursive", False) else fibonacci_iterative(n)
        return Result.success({"n": n, "value": value})


@register
class Hash(Plugin):
    id = "util.hash"
    takes_secrets = False  # an unsalted digest of a secret lets whoever reads it test guesses offline
    name = "Hash"
    category = "util"
    description = "Computes the MD5, SHA-1, SHA-256 or SHA-512 digest of a text or of a file (read as a stream)."
    input_schema = {
        "type": "object",
        "properties": {
            "value": {"type": "string", "description": "Text to hash, as UTF-8."},
            "from": {
                "type": "string",
                "pattern": f"^{PREFIX}",
                "description": "The millrace:/// URI of a file of the namespace to hash.",
            },
            "algorithm": {
                "enum": [*HASH_ALGORITHMS, *(name.lower() for name in HASH_ALGORITHMS)],
                "default": "SHA256",
                "description": "MD5, SHA1, SHA256 or SHA512.",
            },
            "encoding": {"enum": ["HEX", "BASE64"], "default": "HEX", "description": "How the digest is written."},
        },
        "oneOf": [{"required": ["value"]}, {"required": ["from"]}],
    }
    output_schema = {
        "type": "object",
        "properties": {
            "hash": {"type": "string", "description": "The digest, in hex or base64."},
            "algorithm": {"enum": list(HASH_ALGORITHMS)},
            "size": {"type": "integer", "minimum": 0, "description": "Bytes hashed."},
        },
        "required": ["hash", "algorithm", "size"],
    }
    documentation = """\
Computes a checksum: to check a download against its published digest, to tell whether a file
changed since the last run (compare with a value kept in the KV store), or to build a key.

- `value`: text to hash (its UTF-8 bytes), or
- `from`: the `millrace:///` URI of a file of the flow's namespace, read in chunks (files of
  any size the storage accepts). Give one of the two.
- `algorithm`: `SHA256` (default), `SHA512`, `SHA1` or `MD5`. MD5 and SHA-1 are broken for
  security: use them only to match checksums other systems publish.
- `encoding`: `HEX` (default, lower case) or `BASE64`.

Outputs `hash`, `algorithm` and `size` (the bytes hashed). Secrets cannot be hashed: a digest of
a secret, unsalted, lets anyone who reads it test guesses offline.
"""
    example = """\
- name: checksum
  type: util.hash
  properties:
    value: Hello from Millrace
    algorithm: SHA256
    encoding: HEX
"""

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        algorithm = inputs.get("algorithm", "SHA256").upper()
        digest = hashlib.new(HASH_ALGORITHMS[algorithm], usedforsecurity=False)
        if "value" in inputs:
            data = inputs["value"].encode()
            digest.update(data)
            size = len(data)
        else:
            try:
                size = _hash_file(digest, ctx, inputs["from"])
            except FILE_ERRORS as error:
                return file_failure(error, inputs["from"])
        text = base64.b64encode(digest.digest()).decode() if inputs.get("encoding") == "BASE64" else digest.hexdigest()
        return Result.success({"hash": text, "algorithm": algorithm, "size": size})


def _hash_file(digest: Any, ctx: PluginContext, uri: str) -> int:
    """Feed the file to `digest` chunk by chunk; returns its size."""
    size = 0
    with open_input(ctx, uri) as stream:
        while chunk := stream.read(HASH_CHUNK):
            check_running(ctx)
            digest.update(chunk)
            size += len(chunk)
    return size
