"""JMESPath and JSONPath over JSON values, bounded, and the `data.json` plugin that uses them.

A query language is code a flow author writes, and both can make far more than they read:
JMESPath doubles a list with `[@, @] | []` (thirty times is a billion items) and JSONPath
multiplies strings (`$.name * 1000000000`) or runs regular expressions of any cost. So:
JMESPath runs in an interpreter that counts its steps and refuses any list, object or string
past a size, with `join` and `to_string` checked before they build their text; JSONPath
expressions with multiplication or regular expressions are refused before they run; every
result is measured (shared parts counted each time) before it is output.
"""

from __future__ import annotations

import json
import math
from typing import Any

import jmespath
from jmespath import functions as jmespath_functions
from jmespath.exceptions import JMESPathError
from jmespath.visitor import Options, TreeInterpreter
from jsonpath_ng import JSONPath
from jsonpath_ng.ext import parse as jsonpath_parse
from jsonpath_ng.ext.arithmetic import Operation
from jsonpath_ng.ext.filter import Expression
from jsonpath_ng.ext.string import Sub

from connectors.plugins.fileinput import FILE_ERRORS, file_failure, open_input
from connectors.registry import Plugin, PluginContext, Result, register
from core import jsonlimits
from core.filerefs import is_uri

INVALID_EXPRESSION = "INVALID_EXPRESSION"
INVALID_JSON = "INVALID_JSON"
TOO_LARGE = "QUERY_TOO_LARGE"
MAX_EXPRESSION_CHARS = 2048
#: The largest JSON document read (text or file), and the largest result output, in characters.
MAX_JSON_CHARS = 10 * 1024 * 1024
MAX_ITEMS = 1_000_000  # items of any list or object JMESPath builds
MAX_STEPS = 2_000_000  # JMESPath interpreter steps: a few seconds of CPU


class QueryError(ValueError):
    """A query or document that cannot be evaluated; `code` is the failed step's error code."""

    def __init__(self, message: str, code: str = INVALID_EXPRESSION) -> None:
        super().__init__(message)
        self.code = code


def require_within(value: Any, limit: int | None = None) -> None:
    """Raise QueryError when `value` as JSON would be longer than `limit` (default MAX_JSON_CHARS,
    roughly), or nest deeper than JSON may; walked with a stack and stopped at the limit, so a
    value built of one part shared a billion times costs no more than the limit."""
    limit = MAX_JSON_CHARS if limit is None else limit
    used = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > jsonlimits.MAX_JSON_DEPTH:
            raise QueryError(f"The result nests deeper than {jsonlimits.MAX_JSON_DEPTH} levels.", TOO_LARGE)
        if isinstance(item, dict):
            used += 2 + sum(len(key) + 4 for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list | tuple):
            used += 2 + len(item)
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise QueryError("The result holds a number JSON cannot write (infinite or NaN).", TOO_LARGE)
        else:
            used += len(item) + 2 if isinstance(item, str) else 8
        if used > limit:
            raise QueryError(f"The result is larger than {limit} characters.", TOO_LARGE)


class _BoundedFunctions(jmespath_functions.Functions):
    """The built-in functions, with the two that write text measuring it first."""

    @jmespath_functions.signature({"types": []})
    def _func_to_string(self, arg: Any) -> str:
        if not isinstance(arg, str):
            require_within(arg)
        return super()._func_to_string(arg)

    @jmespath_functions.signature({"types": ["string"]}, {"types": ["array-string"]})
    def _func_join(self, separator: str, array: list[str]) -> str:
        if len(separator) * len(array) + sum(map(len, array)) > MAX_JSON_CHARS:
            raise QueryError(f"join() would make more than {MAX_JSON_CHARS} characters.", TOO_LARGE)
        return separator.join(array)


class _BoundedInterpreter(TreeInterpreter):
    """JMESPath's interpreter, counting steps and refusing oversize intermediate values."""

    def __init__(self) -> None:
        super().__init__(Options(custom_functions=_BoundedFunctions()))
        self.steps = 0

    def visit(self, node: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise QueryError(f"The expression takes more than {MAX_STEPS} steps.", TOO_LARGE)
        result = super().visit(node, *args, **kwargs)
        if isinstance(result, list | dict) and len(result) > MAX_ITEMS:
            raise QueryError(f"The expression makes more than {MAX_ITEMS} items.", TOO_LARGE)
        if isinstance(result, str) and len(result) > MAX_JSON_CHARS:
            raise QueryError(f"The expression makes more than {MAX_JSON_CHARS} characters.", TOO_LARGE)
        return result


def jmespath_search(expression: str, data: Any) -> Any:
    """The JMESPath result, bounded; QueryError for a bad or oversize expression or result."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise QueryError(f"A JMESPath expression is at most {MAX_EXPRESSION_CHARS} characters.")
    try:
        parsed = jmespath.compile(expression)
        result = _BoundedInterpreter().visit(parsed.parsed, data)
    except QueryError:
        raise
    except JMESPathError as error:
        raise QueryError(f"JMESPath expression failed: {error}") from None
    except RecursionError:
        raise QueryError("JMESPath expression failed: it nests too deeply.") from None
    except Exception as error:  # the expression is the author's code: what else it raises is theirs
        raise QueryError(f"JMESPath expression failed: {type(error).__name__}: {error}") from None
    require_within(result)
    return result


def _refuse_unbounded(path: JSONPath) -> None:
    """Refuse the parts of a parsed JSONPath whose cost has no bound (walked without recursion)."""
    stack: list[Any] = [path]
    while stack:
        node = stack.pop()
        if isinstance(node, Operation) and node.op_symbol == "*":
            raise QueryError("JSONPath multiplication is not available (it can build values of any size).")
        if isinstance(node, Sub) or (isinstance(node, Expression) and node.op == "=~"):
            raise QueryError("JSONPath regular expressions are not available (a pattern can run for any time).")
        if isinstance(node, list | tuple):
            stack.extend(node)
        elif isinstance(node, JSONPath):
            stack.extend(vars(node).values())


def jsonpath_find(expression: str, data: Any) -> list[Any]:
    """The values every JSONPath match holds, in order; QueryError for a bad expression."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise QueryError(f"A JSONPath expression is at most {MAX_EXPRESSION_CHARS} characters.")
    try:
        path = jsonpath_parse(expression)
    except Exception as error:  # jsonpath-ng's parser raises its own errors and its lexer's, not one base
        raise QueryError(f"JSONPath expression failed: {error}") from None
    _refuse_unbounded(path)
    try:
        result = [match.value for match in path.find(data)]
    except QueryError:
        raise
    except Exception as error:  # the expression is the author's code: a TypeError, a ZeroDivisionError are theirs
        raise QueryError(f"JSONPath expression failed: {type(error).__name__}: {error}") from None
    require_within(result)
    return result


# --- data.json ---------------------------------------------------------------------------------


def _json(text: str, where: str = "") -> Any:
    try:
        return jsonlimits.loads(text)  # bounded depth, no NaN/Infinity
    except json.JSONDecodeError as error:
        message = f"Invalid JSON{where} at line {error.lineno} column {error.colno}: {error.msg}"
        raise QueryError(message, INVALID_JSON) from None
    except ValueError as error:
        raise QueryError(f"Invalid JSON{where}: {error}", INVALID_JSON) from None


def _json_lines(text: str) -> list[Any]:
    return [_json(line, f" on line {number}") for number, line in enumerate(text.splitlines(), 1) if line.strip()]


def _document(inputs: dict[str, Any], ctx: PluginContext) -> Any:
    """The value the expression reads: `from` itself, its JSON text, or its file's JSON."""
    source, form = inputs["from"], inputs.get("format", "AUTO")
    if not isinstance(source, str):
        if jsonlimits.value_depth(source, jsonlimits.MAX_JSON_DEPTH) > jsonlimits.MAX_JSON_DEPTH:
            raise QueryError(f"The value nests deeper than {jsonlimits.MAX_JSON_DEPTH} levels.", INVALID_JSON)
        return source
    lines = form == "JSONL"
    if is_uri(source):
        with open_input(ctx, source) as stream:
            raw = stream.read(MAX_JSON_CHARS + 1)
        if len(raw) > MAX_JSON_CHARS:
            raise QueryError(f"The file is larger than {MAX_JSON_CHARS} bytes.", TOO_LARGE)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise QueryError(f"The file is not UTF-8 text: {error.reason}.", INVALID_JSON) from None
        lines = lines or (form == "AUTO" and source.lower().endswith((".jsonl", ".ndjson")))
    else:
        text = source
        if len(text) > MAX_JSON_CHARS:
            raise QueryError(f"The JSON text is longer than {MAX_JSON_CHARS} characters.", TOO_LARGE)
    return _json_lines(text) if lines else _json(text)


def language(inputs: dict[str, Any]) -> str:
    """The query language: `language`, else JSONPath for an expression starting with `$` (never
    valid JMESPath), else JMESPath."""
    return inputs.get("language") or ("JSONPATH" if inputs["expression"].lstrip().startswith("$") else "JMESPATH")


@register
class JsonQuery(Plugin):
    id = "data.json"
    takes_secrets = False  # the result is the input reworked: masking could not find a secret in it
    name = "Query JSON (JMESPath, JSONPath)"
    category = "data"
    description = "Evaluates a JMESPath or JSONPath expression over a JSON value, JSON text or a JSON file."
    input_schema = {
        "type": "object",
        "properties": {
            "from": {
                "description": "A JSON value, JSON text, or the millrace:/// URI of a JSON or JSON-lines file.",
            },
            "expression": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_EXPRESSION_CHARS,
                "description": "The query, e.g. `orders[?total > `10`].id` or `$.orders[*].id`.",
            },
            "language": {
                "enum": ["JMESPATH", "JSONPATH"],
                "description": "The expression's language; unset: JSONPATH when the expression starts with $, "
                "else JMESPATH.",
            },
            "format": {
                "enum": ["AUTO", "JSON", "JSONL"],
                "default": "AUTO",
                "description": "How to read text or a file: AUTO reads .jsonl/.ndjson files as JSON lines.",
            },
        },
        "required": ["from", "expression"],
    }
    output_schema = {
        "type": "object",
        "properties": {
            "result": {"description": "JMESPath: the expression's value. JSONPath: the list of matched values."},
        },
        "required": ["result"],
    }
    documentation = """\
Picks values out of JSON with a query, so that later tasks get just what they need.

- `from`: what to read. A value (an object or list, e.g. `{{ outputs.api.body }}`), JSON text
  (a string is always read as JSON), or the `millrace:///` URI of a file of the flow's
  namespace: a JSON document, or JSON lines (one value per line, read as a list) when the
  name ends in `.jsonl` or `.ndjson` or `format: JSONL` is given.
- `expression`: the query, at most 2,048 characters.
- `language`: `JMESPATH` (https://jmespath.org) or `JSONPATH` (with filters such as
  `$.orders[?(@.total > 10)].id`, as jsonpath-ng's extended syntax reads them). Unset, an
  expression that starts with `$` is JSONPath (no JMESPath expression can) and any other is
  JMESPath.
- `format`: `AUTO` (default), `JSON` or `JSONL`.

Output `result`: with JMESPath, the expression's value (`null` when nothing matches); with
JSONPath, the list of every matched value (empty when nothing matches).

Limits: documents and results up to 10 MiB, nesting up to 128 levels. JMESPath expressions are
stopped after two million steps or when they build a list of more than a million items. JSONPath
multiplication and regular expressions (`=~`, `sub()`) are refused, as their cost has no bound.
A malformed document or expression fails the task with the place of the error.
"""
    example = """\
- name: paid-orders
  type: data.json
  properties:
    from: '{"orders": [{"id": 1, "state": "paid"}, {"id": 2, "state": "open"}]}'
    expression: "orders[?state == 'paid'].id"
    language: JMESPATH
"""

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        try:
            document = _document(inputs, ctx)
            if language(inputs) == "JSONPATH":
                result = jsonpath_find(inputs["expression"], document)
            else:
                result = jmespath_search(inputs["expression"], document)
        except FILE_ERRORS as error:
            return file_failure(error, inputs["from"])
        except QueryError as error:
            return Result.failed(str(error), code=error.code)
        return Result.success({"result": result})
