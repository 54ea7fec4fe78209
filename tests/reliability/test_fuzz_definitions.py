"""Fuzzing the YAML loader and the definition validator.

Whatever a tenant sends as a definition, `compile_definition`/`validate_definition` either
accept it or report `DefinitionError` problems (path, line, message); nothing else escapes.
Alias bombs, deep nesting and huge documents are refused with memory bounded by the
document's own size (measured with tracemalloc), never by its expansion.
"""

from __future__ import annotations

import string
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from flows.definitions import DefinitionError, Problem, YamlLimits, compile_definition, load_yaml, validate_definition

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "flows" / "examples").glob("*.yaml"))
SAMPLES = [path.read_text() for path in EXAMPLES] + [
    "name: s\ntasks:\n  - name: a\n    type: http.request\n    properties:\n"
    "      url: https://example.com/{{ inputs.x }}\n"
    "    retry: {maxAttempts: 3, delay: 1, backoff: 2}\n  - name: b\n    type: flow.forEach\n    properties:\n"
    "      items: '{{ outputs.a.body }}'\n      concurrency: 2\n    tasks:\n      - name: c\n        type: util.log\n"
    "        properties: {message: '{{ item }}'}\n"
    "triggers:\n  - name: t\n    type: schedule\n    cron: '*/5 * * * *'\n",
    "metadata:\n  name: g\n  version: '1'\nnodes:\n  start:\n    type: util.log\n    params: {message: hi}\n"
    "    next: {default: check}\n  check:\n    type: flow.if\n    params: {condition: '{{ inputs.go }}'}\n"
    "    next: {'true': start, 'false': end}\n  end:\n    type: util.echo\n",
]
SMALL = YamlLimits(max_bytes=64 * 1024, max_depth=32, max_aliases=50, max_nodes=5_000)


def _outcome(source: str | bytes, limits: YamlLimits = SMALL) -> list[Problem]:
    """Validate and compile; only DefinitionError may come out, and both must agree."""
    problems = validate_definition(source, known_secrets=set(), limits=limits)
    assert all(isinstance(problem, Problem) for problem in problems)
    try:
        compile_definition(source, known_secrets=set(), limits=limits)
    except DefinitionError as error:
        assert error.problems, "a DefinitionError always names a problem"
        assert all(isinstance(p.message, str) and p.message for p in error.problems)
        assert all(p.line is None or p.line >= 1 for p in error.problems)
        assert problems, "validate found nothing although compile refused"
    else:
        assert problems == []
    return problems


@given(st.text(max_size=400))
def test_arbitrary_text_is_a_definition_or_a_definition_error(text: str) -> None:
    _outcome(text)


@given(st.binary(max_size=400))
def test_arbitrary_bytes_are_a_definition_or_a_definition_error(data: bytes) -> None:
    _outcome(data)


_YAML_PIECES = st.sampled_from(
    [
        "\n",
        "  ",
        ": ",
        "- ",
        "&a ",
        "*a",
        "<<: *a",
        "!!binary ",
        "!!python/object:os.system ",
        "!!set ",
        "? ",
        "{",
        "}",
        "[",
        "]",
        ",",
        "'",
        '"',
        "|\n  ",
        ">-\n  ",
        "---\n",
        "...\n",
        "#",
        "%YAML 1.1\n",
        "tasks",
        "nodes",
        "name",
        "type",
        "properties",
        "params",
        "next",
        "inputs",
        "triggers",
        "errors",
        "util.log",
        "flow.if",
        "flow.forEach",
        "flow.subflow",
        "{{ inputs.x }}",
        "${SECRET}",
        "\t",
        "\x00",
        "\ufeff",
    ]
)


@given(st.lists(st.one_of(_YAML_PIECES, st.text(string.printable, max_size=8)), max_size=60).map("".join))
def test_yaml_shaped_noise_is_a_definition_or_a_definition_error(text: str) -> None:
    _outcome(text)


@st.composite
def _mutated_sample(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SAMPLES))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "duplicate"]))
        piece = draw(st.one_of(_YAML_PIECES, st.text(max_size=4)))
        end = min(len(text), at + draw(st.integers(1, 40)))
        if kind == "insert":
            text = text[:at] + piece + text[at:]
        elif kind == "delete":
            text = text[:at] + text[end:]
        elif kind == "replace":
            text = text[:at] + piece + text[end:]
        else:
            text = text[:at] + text[at:end] + text[at:]
    return text


@given(_mutated_sample())
def test_mutated_valid_flows_are_a_definition_or_a_definition_error(text: str) -> None:
    _outcome(text)


_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20), st.sampled_from(SAMPLES)
)
_JSONISH = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=10), st.integers()), children, max_size=4),
    ),
    max_leaves=30,
)
_STEP = st.fixed_dictionaries(
    {
        "name": st.text(max_size=10),
        "type": st.sampled_from(["util.log", "http.request", "flow.if", "flow.forEach", "nope"]),
    },
    optional={
        "properties": _JSONISH,
        "tasks": st.lists(st.dictionaries(st.sampled_from(["name", "type", "properties"]), _JSONISH), max_size=2),
        "retry": _JSONISH,
        "timeout": _JSONISH,
        "then": _JSONISH,
        "next": _JSONISH,
    },
)
_TASKS_FLOW = st.fixed_dictionaries(
    {"name": _JSONISH, "tasks": st.one_of(st.lists(_STEP, max_size=4), _JSONISH)},
    optional={"inputs": _JSONISH, "variables": _JSONISH, "triggers": _JSONISH, "errors": _JSONISH, "timeout": _JSONISH},
)
_NODES_FLOW = st.fixed_dictionaries(
    {"metadata": _JSONISH, "nodes": st.one_of(st.dictionaries(st.text(max_size=8), _STEP, max_size=4), _JSONISH)}
)


@given(st.one_of(_TASKS_FLOW, _NODES_FLOW, _JSONISH))
def test_structured_documents_are_a_definition_or_a_definition_error(document: Any) -> None:
    _outcome(yaml.safe_dump(document, allow_unicode=True))


# --- resource bombs ------------------------------------------------------------------------


def _peak_bytes(action: Callable[[], Any]) -> int:
    tracemalloc.start()
    try:
        action()
    except DefinitionError:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def _refusal(source: str, limits: YamlLimits) -> str:
    with pytest.raises(DefinitionError) as caught:
        load_yaml(source, limits)
    return caught.value.problems[0].code


def _laughs(levels: int, fan_out: int) -> str:
    lines = ['l0: &l0 "lol"']
    lines += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * fan_out)}]" for n in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


@given(st.integers(4, 9), st.integers(4, 10))
def test_alias_bombs_are_refused_without_expanding(levels: int, fan_out: int) -> None:
    limits = YamlLimits(max_aliases=1_000, max_nodes=200)
    source = _laughs(levels, fan_out)  # fan_out**levels strings once expanded
    assert fan_out**levels > limits.max_nodes
    assert _refusal(source, limits) == "expansion_too_large"
    assert _peak_bytes(lambda: load_yaml(source, limits)) < 200 * len(source) + 2_000_000


@given(st.integers(101, 3_000))
def test_many_aliases_are_refused(count: int) -> None:
    source = "a: &a x\nb: [" + ", ".join(["*a"] * count) + "]\n"
    assert _refusal(source, YamlLimits()) == "too_many_aliases"


@pytest.mark.parametrize("source", ["a: &a [*a]\n", "a: &a {b: *a}\n", "a: &a [1, [2, *a]]\n"])
def test_recursive_aliases_are_refused(source: str) -> None:
    assert _refusal(source, YamlLimits()) in {"recursive_alias", "yaml_syntax"}


@given(st.integers(65, 1_000), st.sampled_from(["flow-seq", "flow-map", "block"]))
def test_deep_nesting_is_refused_with_bounded_memory(depth: int, style: str) -> None:
    if style == "flow-seq":
        source = "a: " + "[" * depth + "]" * depth + "\n"
    elif style == "flow-map":
        source = "a: " + "{b: " * depth + "1" + "}" * depth + "\n"
    else:
        source = "".join(" " * level + "k:\n" for level in range(depth)) + " " * depth + "k: 1\n"
    assert _refusal(source, YamlLimits()) == "too_deep"
    assert _peak_bytes(lambda: load_yaml(source, YamlLimits())) < 100 * len(source) + 2_000_000


def test_huge_documents_are_refused_before_parsing() -> None:
    limits = YamlLimits()
    source = "name: big\ndescription: " + "x" * (limits.max_bytes + 1) + "\n"
    assert _refusal(source, limits) == "too_large"
    # refused on its length alone: nothing is built beyond a constant
    assert _peak_bytes(lambda: load_yaml(source, limits)) < 100_000
    assert _refusal("é" * (limits.max_bytes // 2 + 1), limits) == "too_large"  # counted in UTF-8 bytes


def test_a_document_of_many_small_values_is_refused_by_its_node_count() -> None:
    source = "a: [" + ", ".join(["1"] * 120_000) + "]\n"
    assert len(source) < YamlLimits().max_bytes
    assert _refusal(source, YamlLimits()) == "expansion_too_large"


@pytest.mark.parametrize(
    "source",
    [
        "!!python/object/apply:os.system ['true']\n",
        "a: !!python/name:os.system\n",
        "a: !!binary aGVsbG8=\n",
        "a: !!set {x}\n",
        "a: !!omap [{b: 1}]\n",
        "--- a\n--- b\n",
    ],
)
def test_unsafe_tags_and_streams_are_refused(source: str) -> None:
    problems = _outcome(source, YamlLimits())
    assert problems and all(p.line is not None for p in problems)


def test_the_settings_limits_apply_to_api_saves(settings) -> None:
    settings.MILLRACE_YAML_MAX_BYTES = 100
    assert YamlLimits.from_settings().max_bytes == 100
    problems = validate_definition("name: x\ndescription: " + "y" * 200 + "\n")
    assert [p.code for p in problems] == ["too_large"]
