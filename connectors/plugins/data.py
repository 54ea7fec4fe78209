"""Data plugins: set values, query with JMESPath, render Jinja2 text, parse and write JSON.

`data.csv` is in `tabular`, `data.json` (JMESPath or JSONPath over files too) in `jsonquery`.
"""

from __future__ import annotations

import json
import operator
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from connectors.plugins.jsonquery import QueryError, jmespath_search
from connectors.registry import Plugin, PluginContext, Result, register
from core import jsonlimits

MAX_TEXT_CHARS = 1_000_000  # a step's output is stored and streamed; a template cannot make more than this
_MAX_POWER_BITS = 65_536
_VALUE_OUTPUT = {
    "type": "object",
    "properties": {"value": {"description": "The resulting JSON value."}},
    "required": ["value"],
}
_TEXT_OUTPUT = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}


@register
class SetValues(Plugin):
    id = "data.set"
    name = "Set values"
    category = "data"
    description = "Outputs the `values` object as given, so later steps can refer to its keys."
    input_schema = {
        "type": "object",
        "properties": {"values": {"type": "object", "description": "Any object; it becomes the outputs."}},
        "required": ["values"],
    }
    output_schema = {"type": "object", "description": "The `values` input."}
    documentation = """\
Gives values a name in the flow: its `values` object becomes the task's outputs, so later tasks
read `{{ outputs.<task>.<key> }}`. Templates in the values are rendered first, so this is also
the place to compute a value once and use it in several tasks.

- `values`: an object of any JSON values.
"""
    example = """\
- name: config
  type: data.set
  properties:
    values:
      bucket: reports
      keepDays: 30
"""

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        return Result.success(inputs["values"])


@register
class Transform(Plugin):
    id = "data.transform"
    takes_secrets = False
    name = "Transform (JMESPath)"
    category = "data"
    description = "Evaluates a JMESPath expression over `data` and outputs the result as `value`."
    input_schema = {
        "type": "object",
        "properties": {
            "expression": {"type": "string", "minLength": 1, "description": "A JMESPath expression."},
            "data": {"description": "The JSON value the expression reads."},
        },
        "required": ["expression", "data"],
    }
    output_schema = _VALUE_OUTPUT
    documentation = """\
Reshapes JSON with a JMESPath expression (https://jmespath.org): pick fields, filter lists,
project, sort, sum.

- `expression`: the JMESPath expression, e.g. `orders[?state == 'paid'].total | sum(@)`.
- `data`: the value it reads, usually another task's output (`{{ outputs.api.body }}`).

Output `value`: the result (`null` when nothing matches). A malformed expression or a function
applied to the wrong type fails the task. For JSONPath or for files, use `data.json`.
"""
    example = """\
- name: paid-total
  type: data.transform
  properties:
    data:
      orders:
        - {id: 1, total: 30, state: paid}
        - {id: 2, total: 5, state: open}
    expression: "orders[?state == 'paid'].total | sum(@)"
"""

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        try:
            value = jmespath_search(inputs["expression"], inputs["data"])  # bounded: see jsonquery
        except QueryError as error:
            return Result.failed(str(error), code=error.code)
        return Result.success({"value": value})


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox blocks unsafe attributes; this also stops `'x' * 10**9` or `10 ** 10**8` eating the worker."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            if isinstance(left, int) and isinstance(right, int) and abs(left).bit_length() * right > _MAX_POWER_BITS:
                raise TemplateError(f"The power would be larger than {_MAX_POWER_BITS} bits.")
            return operator.pow(left, right)
        for sequence, times in ((left, right), (right, left)):
            repeats = isinstance(sequence, str | list | tuple) and isinstance(times, int)
            if repeats and len(sequence) * times > MAX_TEXT_CHARS:
                raise TemplateError(f"Repetition would exceed {MAX_TEXT_CHARS} items.")
        return operator.mul(left, right)


_TEMPLATES = _BoundedSandbox(undefined=StrictUndefined, autoescape=False)


@register
class Template(Plugin):
    id = "data.template"
    takes_secrets = False
    name = "Render template (Jinja2)"
    category = "data"
    description = (
        "Renders a Jinja2 template in a sandbox. `data` is available as `data` and, when it is an object, "
        "its keys are also top-level names. An undefined name is an error."
    )
    input_schema = {
        "type": "object",
        "properties": {
            "template": {"type": "string", "description": "Jinja2 template text."},
            "data": {"description": "Values the template can use."},
        },
        "required": ["template"],
    }
    output_schema = _TEXT_OUTPUT
    documentation = """\
Renders a text (an e-mail body, a report, a message) from a Jinja2 template, in a sandbox:
no access to Python internals, no changes to the data, bounded arithmetic and repetition.

- `template`: the Jinja2 text. Loops, conditions and filters work as in Jinja2.
- `data`: the values it uses, as `data` and, when `data` is an object, by its keys.

In a flow, the task's properties are rendered before it runs, so wrap the template in
`{% raw %}...{% endraw %}` to keep its `{{ }}` and `{% %}` for this task, and give it its values
through `data` (which may itself be a flow template such as `{{ outputs.api.body }}`). An
undefined name is an error, not an empty text. Output `text`, at most 1,000,000 characters.
"""
    example = """\
- name: summary
  type: data.template
  properties:
    template: "{% raw %}{% for o in orders %}{{ o.id }}: {{ o.total }}\\n{% endfor %}{% endraw %}"
    data:
      orders:
        - {id: 1, total: 30}
        - {id: 2, total: 5}
"""

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        data = inputs.get("data")
        names = {**data, "data": data} if isinstance(data, dict) else {"data": data}
        try:
            text = _TEMPLATES.from_string(inputs["template"]).render(names)
        except Exception as error:  # a template is the flow author's code: any error it raises is theirs
            return Result.failed(f"Template error: {type(error).__name__}: {error}", code="TEMPLATE_ERROR")
        if len(text) > MAX_TEXT_CHARS:
            return Result.failed(f"The rendered text exceeds {MAX_TEXT_CHARS} characters.", code="TEMPLATE_ERROR")
        return Result.success({"text": text})


@register
class JsonParse(Plugin):
    id = "data.json.parse"
    takes_secrets = False
    name = "Parse JSON"
    category = "data"
    description = "Parses JSON text and outputs the value."
    input_schema = {
        "type": "object",
        "properties": {"text": {"type": "string", "description": "JSON text."}},
        "required": ["text"],
    }
    output_schema = _VALUE_OUTPUT
    documentation = """\
Turns JSON text (a response body read as text, a KV string, a file's content) into a value
later tasks can index.

- `text`: the JSON text.

Output `value`. Malformed JSON fails the task with its line and column; `NaN` and `Infinity`
are not JSON, and nesting deeper than 128 levels is refused.
"""
    example = """\
- name: parse
  type: data.json.parse
  properties:
    text: '{"id": 7, "tags": ["a", "b"]}'
"""

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        try:
            value = jsonlimits.loads(inputs["text"])  # bounded depth, no NaN/Infinity
        except json.JSONDecodeError as error:
            return Result.failed(
                f"Invalid JSON at line {error.lineno} column {error.colno}: {error.msg}", code="INVALID_JSON"
            )
        except ValueError as error:
            return Result.failed(f"Invalid JSON: {error}", code="INVALID_JSON")
        return Result.success({"value": value})


@register
class JsonStringify(Plugin):
    id = "data.json.stringify"
    name = "Write JSON"
    category = "data"
    description = "Writes a value as JSON text (compact, or indented when `indent` is given)."
    input_schema = {
        "type": "object",
        "properties": {
            "value": {"description": "Any JSON value."},
            "indent": {"type": "integer", "minimum": 0, "maximum": 16, "description": "Spaces per level."},
        },
        "required": ["value"],
    }
    output_schema = _TEXT_OUTPUT
    documentation = """\
Writes a value as JSON text, e.g. for a request body built by hand or a value to store.

- `value`: any JSON value.
- `indent`: spaces per level (0 to 16) for readable output; compact without it.

Output `text`. Non-ASCII characters are kept as they are.
"""
    example = """\
- name: body
  type: data.json.stringify
  properties:
    value: {event: deployed, version: 42}
    indent: 2
"""

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        indent = inputs.get("indent")
        separators = (",", ": ") if indent is not None else (",", ":")
        return Result.success(
            {"text": json.dumps(inputs["value"], indent=indent, separators=separators, ensure_ascii=False)}
        )
