"""Bounded JSON nesting, measured without recursion."""

import json
import sys

import pytest

from core.jsonlimits import MAX_JSON_DEPTH, JSONTooDeep, loads, text_depth, text_too_deep, value_depth
from flows.admin.run_form import JsonField


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ('"[[["', 0),
        ("{}", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('["\\"[[", ["]]\\\\"]]', 2),  # escaped quotes and backslashes inside strings
        ("[[]][[[]]]", 3),
    ],
)
def test_text_depth(text, depth):
    assert text_depth(text) == depth


def test_a_document_at_the_limit_parses_and_one_level_more_is_refused():
    at_limit = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert value_depth(loads(at_limit)) == MAX_JSON_DEPTH
    with pytest.raises(JSONTooDeep, match=f"deeper than {MAX_JSON_DEPTH} levels"):
        loads("[" + at_limit + "]")


def test_far_beyond_the_recursion_limit_is_refused_without_recursing():
    deep = "[" * 1_000_000
    assert text_too_deep(deep)
    with pytest.raises(ValueError):  # a JSONTooDeep is a ValueError, as any malformed JSON
        loads(deep)
    assert not text_too_deep('"' + "[" * 1_000_000 + '"')  # in a string: not nesting


def test_value_depth_walks_without_recursion_and_stops_early():
    value: list = []
    for _ in range(sys.getrecursionlimit() * 3):
        value = [value]
    assert value_depth(value) == sys.getrecursionlimit() * 3 + 1
    assert value_depth(value, limit=64) == 65
    assert value_depth({"a": 1, "b": [{"c": ()}]}) == 4
    assert value_depth("text") == 0


def test_the_console_run_form_refuses_over_deep_json():
    field = JsonField(required=False)
    with pytest.raises(Exception, match="deeper than"):
        field.clean("[" * 5000 + "]" * 5000)
    assert field.clean(json.dumps({"a": [1]})) == {"a": [1]}


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json_unless_asked_for(constant):
    with pytest.raises(ValueError, match="is not a JSON value"):
        loads(f"[1, {constant}]")
    assert loads(f"[{constant}]", parse_constant=float)[0] != 0
