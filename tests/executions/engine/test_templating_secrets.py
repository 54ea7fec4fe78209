"""A secret is write-only in templates: no reshaping of it reaches a reader.

For a secret with value V, whatever a template does with it — every Jinja filter, every
str method, loops, dict keys, comparisons, chains of these — the render either fails (with
an error that holds no trace of V) or gives a value that, once masked as the engine stores
and shows it, holds no trace of V: not V, no substring of V of 3 or more characters, not
its characters in order (as a list, as ordinals, as bytes), not V reversed, not V encoded
(base64, hex, URL-encoded) and not V split into pieces. Filters and methods are enumerated
from Jinja and `dir(str)`, so a new one is covered without touching this file.
"""

import base64
import json
from typing import Any
from urllib.parse import quote, quote_plus

import jinja2.filters
import jinja2.tests
import pytest

from executions.engine.templating import RenderContext, TemplateRenderer, TemplateRenderError
from executions.engine.templating.sandbox import _ENV
from executions.engine.templating.taint import WHOLE_FILTERS, WHOLE_TESTS
from vault.masking import MASK

V = "Kx9#Qm2$Vt7!"  # no 3 characters of it occur in any template, error text or MASK


class Resolver:
    def secret(self, name: str) -> str:
        if name == "X":
            return V
        raise LookupError(name)

    def kv(self, key: str) -> Any:
        raise LookupError(key)


def _forms() -> list[str]:
    """What must never be readable: pieces of V, of V reversed, of its encodings."""
    pieces = {V[i : i + 3] for i in range(len(V) - 2)}
    pieces |= {V[::-1][i : i + 3] for i in range(len(V) - 2)}
    data = V.encode()
    for encoded in (base64.b64encode(data).decode(), data.hex(), quote(V, safe=""), quote_plus(V)):
        pieces |= {encoded[i : i + 6] for i in range(len(encoded) - 5)}
    return sorted(pieces)


FORMS = _forms()


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in (*_leaves(key), *_leaves(item))]
    if isinstance(value, list | tuple):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def _views(value: Any) -> list[str]:
    """The texts a reader could rebuild V from: the JSON, its string pieces put back together
    (in order and reversed), its numbers read as characters (ordinals, bytes)."""
    leaves = _leaves(value)
    strings = "".join(leaf for leaf in leaves if isinstance(leaf, str))
    numbers = "".join(chr(leaf) for leaf in leaves if isinstance(leaf, int) and 0 <= leaf < 0x110000)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return [text, strings, strings[::-1], numbers, numbers[::-1], text.lower(), strings.lower()]


def assert_no_trace(value: Any) -> None:
    for view in _views(value):
        found = [form for form in FORMS if form in view or form.lower() in view]
        assert not found, f"{found[:3]} readable in {view[:200]!r}"


def _render(template: str) -> tuple[TemplateRenderer, Any, TemplateRenderError | None]:
    renderer = TemplateRenderer(RenderContext(inputs={"name": "ada", "tags": ["a", "b"]}), Resolver())
    try:
        return renderer, renderer.render({"value": template}, "properties"), None
    except TemplateRenderError as error:
        return renderer, None, error


def assert_write_only(template: str) -> TemplateRenderError | None:
    """Render; what the engine would store and show (outputs masked, inputs redacted,
    the error) holds no trace of V."""
    renderer, rendered, error = _render(template)
    if error is not None:
        assert_no_trace(str(error))
        assert V not in repr(error.__context__)  # nothing quoting V is kept on the error
        return error
    assert_no_trace(renderer.masker().mask(rendered))  # a plugin echoing its input
    assert_no_trace(renderer.redact(rendered, "properties"))  # the stored task inputs
    return None


# --- every filter, every str method ------------------------------------------------------------

#: Arguments for filters that need some to do anything.
FILTER_ARGS = {
    "attr": "('upper')",
    "batch": "(2)",
    "center": "(40)",
    "format": "('x')",
    "groupby": "(0)",
    "indent": "(2)",
    "join": "('-')",
    "map": "('string')",
    "reject": "('none')",
    "rejectattr": "('x')",
    "replace": "('K', 'k')",
    "round": "",
    "select": "('string')",
    "selectattr": "('x')",
    "slice": "(2)",
    "sum": "(start='')",
    "truncate": "(5, true, '', 0)",
    "wordwrap": "(3)",
    "xmlattr": "",
}
FILTERS = sorted(set(jinja2.filters.FILTERS) | set(_ENV.filters))
SOURCES = {
    "secret": "secret('X')",
    "dollar": "('' ~ '${X}')",
    "upper": "(secret('X') | upper)",
    "b64": "(secret('X') | b64encode)",
    "concat": "('ab' ~ secret('X'))",
    "list": "[secret('X'), 'yz']",
    "dict": "{'k': secret('X')}",
    "nested": "[{'k': [secret('X')]}]",
}
TAKE_APART = ["list", "reverse", "batch", "slice", "first", "last", "random", "sort", "unique", "join", "map"]


@pytest.mark.parametrize("source", sorted(SOURCES))
@pytest.mark.parametrize("name", FILTERS)
def test_every_filter_keeps_a_secret_write_only(name, source):
    value = SOURCES[source]
    arguments = FILTER_ARGS.get(name, "")
    assert_write_only(f"{{{{ {value} | {name}{arguments} }}}}")
    assert_write_only(f"{{{{ {value} | {name}{arguments} | list }}}}")
    assert_write_only(f"{{{{ {value} | {name}{arguments} | map('ord') | list }}}}")
    assert_write_only(f"x {{{{ {value} | {name}{arguments} }}}} y")
    assert_write_only(f"{{{{ 'abc' | {name}(secret('X')) }}}}")  # a secret as an argument
    for apart in TAKE_APART:
        assert_write_only(f"{{{{ {value} | {name}{arguments} | {apart} }}}}")
    for rebuilt in ("join", "string", "map('string') | join", "tojson"):  # lazy results joined, then taken apart
        assert_write_only(f"{{{{ {value} | {name}{arguments} | {rebuilt} | list }}}}")


STR_METHODS = sorted(name for name in dir(str) if not name.startswith("_"))
METHOD_ARGS = {
    "center": "(40)",
    "count": "('K')",
    "endswith": "('!')",
    "expandtabs": "(4)",
    "find": "('K')",
    "format": "(1)",
    "index": "('K')",
    "join": "(['a', 'b'])",
    "ljust": "(40)",
    "partition": "('9')",
    "removeprefix": "('K')",
    "removesuffix": "('!')",
    "replace": "('K', 'k')",
    "rfind": "('K')",
    "rindex": "('K')",
    "rjust": "(40)",
    "rpartition": "('9')",
    "split": "('9')",
    "rsplit": "('9')",
    "startswith": "('K')",
    "translate": "({75: 107})",
    "zfill": "(40)",
    "maketrans": "('Kx9', 'abc')",
}


@pytest.mark.parametrize("source", ["secret", "dollar", "upper", "b64", "concat"])
@pytest.mark.parametrize("method", STR_METHODS)
def test_every_str_method_keeps_a_secret_write_only(method, source):
    value, arguments = SOURCES[source], METHOD_ARGS.get(method, "()")
    assert_write_only(f"{{{{ {value}.{method}{arguments} }}}}")
    assert_write_only(f"{{{{ {value}.{method}{arguments} | list }}}}")
    assert_write_only(f"{{{{ {value}.{method}() }}}}")
    assert_write_only(f"{{{{ {value}['{method}']{arguments} }}}}")
    assert_write_only(f"{{{{ ({value} | attr('{method}')){arguments} }}}}")
    assert_write_only(f"{{{{ 'abcdef'.{method}({value}) }}}}")  # a secret as an argument
    assert_write_only(f"{{{{ 'abcdef'.{method}({value}, {value}) }}}}")


# --- loops, keys, indexing, comparisons, operators ----------------------------------------------

REFUSED = [
    "{{ {secret('X'): 1} }}",
    "{{ {'a': {secret('X'): 1}} }}",
    "{{ [{'b': {('x' ~ secret('X')): 1}}] }}",
    "{{ {secret('X') | upper: 1} }}",
    "x {{ {secret('X'): 1} }}",
    "{% for c in secret('X') %}{{ c }},{% endfor %}",
    "{% for c in secret('X') %}{{ loop.index }}{% endfor %}",
    "{% for c in ('a' ~ secret('X')) %}{{ c }}{% endfor %}",
    "{% for c in secret('X') | upper %}{{ c }}{% endfor %}",
    "{% for a, b in [secret('X')] %}{{ a }}{% endfor %}",
    "{% set a, b, c = secret('X') %}{{ a }}",
    "{{ secret('X')[0] }}",
    "{{ secret('X')[1:] }}",
    "{{ secret('X')[::-1] }}",
    "{{ secret('X').0 }}",
    "{{ secret('X')[0] == 'K' }}",
    "{% if secret('X')[0] == 'K' %}yes{% endif %}",
    "{% if secret('X') == 'guess' %}yes{% endif %}",
    "{% if secret('X') != 'guess' %}yes{% endif %}",
    "{% if secret('X') > 'L' %}yes{% endif %}",
    "{% if 'L' < secret('X') %}yes{% endif %}",
    "{% if 'Kx' in secret('X') %}yes{% endif %}",
    "{% if secret('X') in 'Kx9#Qm2$Vt7!' %}yes{% endif %}",
    "{% if secret('X') in ['a', 'b'] %}yes{% endif %}",
    "{% if 'a' in [secret('X')] %}yes{% endif %}",
    "{{ secret('X') is lower }}",
    "{{ secret('X') is in 'abc' }}",
    "{{ secret('X') is eq 'abc' }}",
    "{{ 'abc' is in secret('X') }}",
    "{{ ['a', secret('X')] | select('in', 'abc') | list }}",
    "{{ ['a', secret('X')] | max }}",
    "{{ ['a', secret('X')] | sort }}",
    "{{ {'a': secret('X'), 'b': 'M'} | dictsort(by='value') }}",
    "{{ secret('X') | length }}",
    "{{ secret('X') | list }}",
    "{{ secret('X') | batch(2) | map('join') | list }}",
    "{{ secret('X').encode() | list }}",
    "{{ secret('X').split('9') }}",
    "{{ '%s' % secret('X') }}",
    "{{ '%.2s' % secret('X') }}",
    "{{ secret('X') % () }}",
    "{{ '%s' | format(secret('X')) }}",
    "{{ secret('X') | trim('K!') }}",
    "{{ secret('X').strip('K!') }}",
    "{{ ''.join(secret('X')) }}",
    "{{ ''.maketrans(secret('X'), secret('X')) }}",
    "{{ range(3) | map('string') | select('in', secret('X')) | list }}",
    "{{ inputs[secret('X')] }}",
    "{{ kv(secret('X'), 1) }}",
    "{{ secret(secret('X')) }}",
    "{% for i in range(3) %}{{ loop.cycle(secret('X'), 'a') }}{% endfor %}",
    "{{ [secret('X')] | map('string') | join | list }}",
    "{{ [secret('X')] | reverse | join | list }}",
    "{{ [secret('X')] | select | join | list }}",
    "{{ [secret('X')] | slice(1) | map('join') | join | list }}",
    "{{ {'a': secret('X')}.items() | join | list }}",
    "{{ {'a': secret('X')}.values() | string | list }}",
    "{{ {'a': secret('X')} | items | join | list }}",
]


@pytest.mark.parametrize("template", REFUSED)
def test_taking_a_secret_apart_fails_the_render_without_quoting_it(template):
    error = assert_write_only(template)
    assert error is not None, f"{template} rendered"
    assert "a secret" in error.message


#: Every Jinja filter is either refused for a secret or keeps it whole (and masked).
@pytest.mark.parametrize("name", sorted(set(jinja2.filters.FILTERS)))
def test_filters_that_would_take_a_secret_apart_are_refused(name):
    _, _, error = _render(f"{{{{ secret('X') | {name}{FILTER_ARGS.get(name, '')} }}}}")
    if name not in WHOLE_FILTERS:
        assert error is not None and ("a secret" in error.message or "No filter named" in error.message)


@pytest.mark.parametrize("name", sorted(jinja2.tests.TESTS))
def test_tests_that_would_read_a_secret_are_refused(name):
    assert_write_only(f"{{{{ [secret('X')] | select('{name}') | list }}}}")
    assert_write_only(f"{{{{ ['a'] | select('{name}', 'abc') | list }}}}")
    _, _, error = _render(f"{{{{ [secret('X')] | select('{name}', 'abc') | list }}}}")
    if name not in WHOLE_TESTS:
        assert error is not None and "a secret" in error.message
    _, _, error = _render(f"{{{{ ['abc'] | select('{name}', secret('X')) | list }}}}")
    assert error is not None and "a secret" in error.message


def test_a_secret_as_a_dict_value_or_list_item_is_masked_not_refused():
    renderer, rendered, error = _render("{{ {'auth': secret('X'), 'all': [secret('X'), 'b'] | join(',')} }}")
    assert error is None
    assert rendered == {"value": {"auth": V, "all": f"{V},b"}}
    assert renderer.masker().mask(rendered) == {"value": {"auth": MASK, "all": f"{MASK},b"}}
    assert renderer.redact(rendered, "properties") == {"value": MASK}


# --- legitimate uses keep working --------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Bearer {{ secret('X') }}", f"Bearer {V}"),
        ("Bearer ${X}", f"Bearer {V}"),
        ("{{ secret('X') }}", V),
        ("{{ 'Bearer ' ~ secret('X') }}", f"Bearer {V}"),
        ("{{ 'Bearer ' + secret('X') }}", f"Bearer {V}"),
        ("Basic {{ ('user:' ~ secret('X')) | b64encode }}", "Basic " + base64.b64encode(f"user:{V}".encode()).decode()),
        ("{{ secret('X') | urlencode }}", quote(V, safe="/")),
        ("{{ secret('X') | upper }}", V.upper()),
        ("{{ secret('X').lower() }}", V.lower()),
        ("{{ secret('X') | trim }}", V),
        ("{{ secret('X') | tojson }}", json.dumps(V)),
        ("{{ [secret('X'), 'b'] | join(' ') }}", f"{V} b"),
        ("{{ [secret('X'), 'b'] | first }}", V),
        ("{{ {'h': secret('X')} }}", {"h": V}),
        ("{{ secret('X') if secret('X') else 'none' }}", V),
        ("{{ secret('X') is defined }}", True),
        ("{{ inputs.missing | default(secret('X')) }}", V),
        ("{% set t = secret('X') %}{{ t }}!", f"{V}!"),
        ("{% for h in [secret('X')] %}{{ h }}{% endfor %}", V),
    ],
)
def test_a_secret_used_whole_still_works_and_is_masked(template, expected):
    _, rendered, error = _render(template)
    assert error is None, error
    assert rendered == {"value": expected}
    assert_write_only(template)


def test_a_derived_value_is_recorded_for_masking():
    renderer, _, _ = _render("{{ secret('X') | b64encode }}")
    encoded = base64.b64encode(V.encode()).decode()
    assert renderer.masker().mask({"echo": encoded, encoded: 1}) == {"echo": MASK, MASK: 1}


def test_a_renderer_for_control_values_refuses_secrets():
    renderer = TemplateRenderer(RenderContext(), Resolver(), secrets=False)
    with pytest.raises(TemplateRenderError, match="cannot be used here") as refused:
        renderer.render("{{ secret('X') | list }}", "items")
    assert V not in str(refused.value)
    with pytest.raises(TemplateRenderError, match="cannot be used here"):
        renderer.render("${X}", "value")
