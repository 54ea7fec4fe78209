"""Fuzzing the task-input template renderer (`executions.engine.templating`).

A template is code a tenant writes and a worker runs. Whatever it is, rendering gives a
JSON value or raises `TemplateRenderError`; sandbox escapes never reach Python internals
(classes, globals, modules, the file system); work and memory stay within the limits.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from executions.engine.templating import MAX_VALUE_SIZE, RenderContext, TemplateRenderer, TemplateRenderError

# Generated templates index numbers on purpose; Python's compile-time hint about it is noise here.
pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning")

SECRET = "s3cr3t-Value-42"
CONTEXT = RenderContext(
    inputs={"name": "Ada", "n": 3, "items": [1, 2, 3], "nested": {"a": {"b": "c"}}, "text": "x{y}%s"},
    outputs={"fetch": {"status_code": 200, "body": {"ok": True, "list": ["a", "b"]}}},
    vars={"greeting": "hello"},
    execution={"id": "e-1", "namespace": "production"},
)
#: Text that only an object's repr, a class, a module or a frame would print.
INTERNALS = (
    "<class ",
    "<module ",
    "<frame ",
    "<code ",
    "__globals__",
    "__builtins__",
    "__subclasses__",
    "__import__",
    "os.system",
    "subprocess",
    "<bound method",
    "mappingproxy",
    "<cell ",
)


class Vault:
    """A resolver with one secret and one KV key; anything else is missing."""

    def secret(self, name: str) -> str:
        if name == "API_KEY":
            return SECRET
        raise LookupError(name)

    def kv(self, key: str) -> Any:
        if key == "counter":
            return 7
        raise LookupError(key)


def render(source: Any) -> tuple[Any, TemplateRenderError | None]:
    renderer = TemplateRenderer(CONTEXT, Vault())
    try:
        return renderer.render(source, "properties.value"), None
    except TemplateRenderError as error:
        assert error.field_path.startswith("properties.value")
        assert SECRET not in str(error), "errors are masked"
        return None, error


def assert_no_internals(value: Any) -> None:
    text = json.dumps(value, ensure_ascii=False)  # a render result is always JSON data
    for marker in INTERNALS:
        assert marker not in text, f"{marker!r} leaked in {text[:200]!r}"


@given(st.text(max_size=300))
def test_arbitrary_text_renders_or_raises_template_render_error(text: str) -> None:
    value, _ = render(text)
    assert_no_internals(value)


_ATOMS = st.sampled_from(
    [
        "inputs",
        "inputs.name",
        "inputs.items",
        "inputs.nested.a",
        "inputs['text']",
        "outputs.fetch.body",
        "vars",
        "execution",
        "trigger",
        "item",
        "index",
        "range(5)",
        "range",
        "secret('API_KEY')",
        "secret('NOPE')",
        "kv('counter')",
        "kv('missing', 0)",
        "'abc'",
        "''",
        "1",
        "0",
        "-1",
        "2.5",
        "True",
        "None",
        "[1, 2]",
        "{'a': 1}",
        "self",
        "loop",
        "caller",
        "varargs",
        "cycler",
        "joiner",
        "namespace",
        "lipsum",
        "dict",
        "config",
        "request",
        "g",
        "url_for",
        "get_flashed_messages",
        "undefined_name",
        "(1,)",
        "'%s'",
        "'{0}'",
    ]
)
_ATTRIBUTES = st.sampled_from(
    [
        "__class__",
        "__mro__",
        "__base__",
        "__bases__",
        "__subclasses__",
        "__globals__",
        "__init__",
        "__dict__",
        "__builtins__",
        "__import__",
        "__getattribute__",
        "__reduce_ex__",
        "__code__",
        "__closure__",
        "__self__",
        "__func__",
        "__module__",
        "__name__",
        "__qualname__",
        "func_globals",
        "gi_frame",
        "gi_code",
        "f_globals",
        "cr_frame",
        "ag_frame",
        "tb_frame",
        "mro",
        "format",
        "format_map",
        "upper",
        "items",
        "keys",
        "pop",
        "append",
        "update",
        "clear",
        "setdefault",
        "__setitem__",
        "environment",
        "globals",
        "_TemplateReference__context",
        "exported_vars",
        "parent",
        "vars",
        "eval_ctx",
        "real",
        "start",
    ]
)
_FILTERS = st.sampled_from(
    [
        "attr('__class__')",
        "attr('__globals__')",
        "attr('upper')",
        "string",
        "list",
        "first",
        "last",
        "length",
        "upper",
        "lower",
        "tojson",
        "b64encode",
        "sha256",
        "join(',')",
        "map('attr', '__class__')",
        "map('upper')",
        "selectattr('__class__')",
        "sort(attribute='__class__')",
        "groupby('__class__')",
        "format(1)",
        "replace('a', 'b')",
        "reverse",
        "sum",
        "unique",
        "dictsort",
        "items",
        "batch(2)",
        "slice(2)",
        "center(10)",
        "truncate(5)",
        "int",
        "float",
        "abs",
        "round",
        "trim",
        "wordcount",
        "urlencode",
        "xmlattr",
    ]
)


@st.composite
def _expression(draw: st.DrawFn, depth: int = 0) -> str:
    expression = draw(_ATOMS)
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["attr", "item", "filter", "call", "binop", "nest"]))
        if kind == "attr":
            expression = f"{expression}.{draw(_ATTRIBUTES)}"
        elif kind == "item":
            expression = f"{expression}[{draw(st.sampled_from([repr(a) for a in ('__class__', 'a', 0, -1)] + ['1:']))}]"
        elif kind == "filter":
            expression = f"({expression})|{draw(_FILTERS)}"
        elif kind == "call":
            expression = f"{expression}({draw(st.sampled_from(['', '0', repr('os'), '1, 2', 'x=1']))})"
        elif kind == "binop":
            operator = draw(st.sampled_from(["+", "*", "~", "%", "**", "//", "in", "==", "and", "if"]))
            right = draw(_ATOMS)
            expression = (
                f"({expression} {operator} {right} else 0)"
                if operator == "if"
                else f"({expression} {operator} {right})"
            )
        elif depth < 2:
            expression = f"[{expression}, {draw(_expression(depth + 1))}]"
    return expression


_TEMPLATES = st.one_of(
    _expression().map(lambda e: "{{ " + e + " }}"),
    _expression().map(lambda e: "text {{ " + e + " }} more"),
    st.tuples(_expression(), _expression()).map(lambda p: "{% for x in " + p[0] + " %}{{ " + p[1] + " }}{% endfor %}"),
    st.tuples(_expression(), _expression()).map(lambda p: "{% if " + p[0] + " %}{{ " + p[1] + " }}{% endif %}"),
    _expression().map(lambda e: "{% set v = " + e + " %}{{ v }}"),
)


@given(_TEMPLATES)
def test_generated_templates_render_json_data_or_raise_template_render_error(template: str) -> None:
    value, _ = render(template)
    assert_no_internals(value)


@given(
    st.recursive(
        _TEMPLATES | st.text(max_size=10),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
        max_leaves=8,
    )
)
def test_nested_inputs_render_field_by_field(inputs: Any) -> None:
    value, error = render(inputs)
    assert_no_internals(value)
    if error is not None:
        assert error.field_path.startswith("properties.value")


# --- known escapes, each refused -------------------------------------------------------------

ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__.__base__.__subclasses__() }}",
    "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "{{ []|attr('__class__')|attr('__base__')|attr('__subclasses__')() }}",
    "{{ ''|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
    "{{ ''['__class__'] }}",
    "{{ inputs.__class__.__init__.__globals__ }}",
    "{{ range.__globals__ }}",
    "{{ secret.__globals__['__builtins__'] }}",
    "{{ kv.__closure__ }}",
    "{{ self.__init__.__globals__.__builtins__.__import__('os').system('touch {marker}') }}",
    "{{ self._TemplateReference__context.cycler.__init__.__globals__.os.system('touch {marker}') }}",
    "{{ cycler.__init__.__globals__.os.popen('touch {marker}').read() }}",
    "{{ joiner.__init__.__globals__.os.popen('touch {marker}').read() }}",
    "{{ namespace.__init__.__globals__.os.popen('touch {marker}').read() }}",
    "{{ lipsum.__globals__['os'].popen('touch {marker}').read() }}",
    "{{ lipsum|attr('__globals__') }}",
    "{{ config.__class__.__init__.__globals__['os'] }}",
    "{{ request.application.__globals__.__builtins__ }}",
    "{{ '{0.__class__.__mro__}'.format('') }}",
    "{{ '{0.__init__.__globals__}'.format(range) }}",
    "{{ '%s'.format_map({}) }}",
    "{{ ('{0.__class__}')|attr('format')(1) }}",
    "{{ ''.format }}",
    "{{ inputs.items.pop() }}",
    "{{ inputs.items.append(4) }}",
    "{{ inputs.nested.update({'x': 1}) }}",
    "{{ inputs.nested.clear() }}",
    "{% set x = inputs.items.append(4) %}{{ x }}",
    "{{ inputs.items|map('attr', '__class__')|list }}",
    "{{ range(3)|selectattr('__class__')|list }}",
    "{% for c in ''.__class__.__mro__ %}{{ c }}{% endfor %}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "{% include 'x' %}",
    "{% import 'os' as os %}",
    "{% extends 'base' %}",
    "{% filter upper %}x{% endfilter %}",
    "{% call range(1) %}{% endcall %}",
    "{% for x in range(3) recursive %}{{ loop(x) }}{% endfor %}",
    "{% set ns = namespace(a=1) %}{{ ns }}",
    "{{ (lipsum or cycler or joiner).__globals__ }}",
    "{{ [].__class__.__base__.__subclasses__()[140].__init__.__globals__['sys'] }}",
    "{{ ''.__class__.__mro__[-1].__subclasses__()|map(attribute='__name__')|list }}",
    "{{ getattr(inputs, '__class__') }}",
    "{{ __import__('os') }}",
    "{{ eval('1') }}",
    "{{ open('/etc/passwd').read() }}",
]


@pytest.mark.parametrize("template", ESCAPES)
def test_sandbox_escapes_are_refused(template: str, tmp_path: Path) -> None:
    marker = tmp_path / "escaped"
    value, error = render(template.replace("{marker}", str(marker)))
    assert error is not None, f"rendered {value!r}"
    assert not marker.exists()
    assert CONTEXT.inputs["items"] == [1, 2, 3] and CONTEXT.inputs["nested"] == {"a": {"b": "c"}}


# --- resource bombs --------------------------------------------------------------------------

BOMBS = [
    "{{ range(10**9)|list }}",
    "{{ range(10**9)|length }}",
    "{{ 'a' * 10**9 }}",
    "{{ 'abc' * 1000000 }}",
    "{{ [1] * 10**8 }}",
    "{{ 9 ** (9 ** 9) }}",
    "{{ 10 ** 100000 }}",
    "{{ (2 ** 4000) * (2 ** 4000) }}",
    "{{ '%999999999s'|format('x') }}",
    "{{ '%*s'|format(99999999, 'x') }}",
    "{{ '%.*f'|format(99999999, 1.0) }}",
    "{{ 'x'|center(999999999) }}",
    "{{ 'ab'.replace('', 'x' * 1000000) }}",
    "{{ 'x'|replace('', 'abcdef' * 200000) }}",
    "{{ ('x' * 600000) ~ ('y' * 600000) }}",
    "{{ ('x' * 600000) + ('y' * 600000) }}",
    "{{ ','.join(['x' * 1000] * 2000) }}",
    "{{ (['x' * 1000] * 1000)|join('y' * 1000) }}",
    "{{ 'x\\t'.expandtabs(10**6) }}",
    "{{ range(100000)|batch(999999999)|list }}",
    "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
    "{% for a in range(1000) %}{{ 'x' * 10000 }}{% endfor %}",
    "{{ 'x' * 1040000 }}{{ 'y' * 10000 }}",
]


@pytest.mark.parametrize("template", BOMBS)
def test_resource_bombs_are_refused_with_bounded_memory(template: str) -> None:
    tracemalloc.start()
    try:
        value, error = render(template)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert error is not None, f"rendered {str(value)[:80]!r}"
    assert peak < 40 * MAX_VALUE_SIZE, f"peak {peak} bytes"


def test_values_just_under_the_limits_still_render() -> None:
    value, error = render("{{ 'a' * 1000 }}")
    assert error is None and value == "a" * 1000
    value, error = render("{% for a in range(300) %}{% for b in range(300) %}{% endfor %}{% endfor %}done")
    assert error is None and value == "done"


# --- secrets -------------------------------------------------------------------------------


@given(
    st.sampled_from(
        ["{{ secret('API_KEY') }}", "${API_KEY}", "{{ secret('API_KEY')|upper }}", "{{ secret('API_KEY') ~ 1 }}"]
    ),
    _TEMPLATES,
)
def test_errors_after_a_secret_was_read_never_quote_it(secret_part: str, other: str) -> None:
    """`render` asserts that an error text never holds the secret, whatever failed after the lookup."""
    render(secret_part + other)
    render(other + secret_part)


def test_dollar_references_are_never_evaluated() -> None:
    value, error = render("${API_KEY}")
    assert error is None and value == SECRET
    _, error = render("{{ '${API_KEY}' }}")
    assert error is not None and "secret('API_KEY')" in error.message
    value, error = render("$${API_KEY} {{ '$${x}' }}")
    assert error is None and value == "${API_KEY} ${x}"
