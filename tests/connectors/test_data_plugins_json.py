"""data.json: JMESPath and JSONPath over values, JSON text and files; the bounds of both languages."""

from __future__ import annotations

import uuid

import pytest

from connectors.plugins import jsonquery
from connectors.registry import InputError, ResultStatus, get_plugin

from .conftest import FakeContext, RunPlugin

SHOP = {"orders": [{"id": 1, "total": 30, "state": "paid"}, {"id": 2, "total": 5, "state": "open"}], "name": "shop"}


@pytest.mark.parametrize(
    ("language", "expression", "result"),
    [
        ("JMESPATH", "orders[?state == 'paid'].id", [1]),
        ("JMESPATH", "sum(orders[].total)", 35),
        ("JMESPATH", "missing", None),
        ("JSONPATH", "$.orders[*].id", [1, 2]),
        ("JSONPATH", "$.orders[?(@.total > 10)].id", [1]),
        ("JSONPATH", "$..state", ["paid", "open"]),
        ("JSONPATH", "$.missing", []),
    ],
)
def test_queries_a_value(run_plugin: RunPlugin, language: str, expression: str, result: object) -> None:
    outcome = run_plugin("data.json", {"from": SHOP, "expression": expression, "language": language})
    assert outcome.status == ResultStatus.SUCCESS, outcome.error
    assert outcome.outputs == {"result": result}


@pytest.mark.parametrize(
    ("expression", "result"),
    [("$.orders[*].id", [1, 2]), (" $..state", ["paid", "open"]), ("orders[*].id", [1, 2]), ("name", "shop")],
)
def test_without_language_a_dollar_means_jsonpath(run_plugin: RunPlugin, expression: str, result: object) -> None:
    assert run_plugin("data.json", {"from": SHOP, "expression": expression}).outputs == {"result": result}


def test_queries_json_text_and_files(run_plugin: RunPlugin, ctx: FakeContext) -> None:
    assert run_plugin("data.json", {"from": '{"a": {"b": [1, 2]}}', "expression": "a.b[1]"}).outputs == {"result": 2}
    uri = ctx.file_write("shop.json", '\ufeff{"orders": [{"id": 9}]}')
    assert run_plugin("data.json", {"from": uri, "expression": "orders[0].id"}).outputs == {"result": 9}
    lines = ctx.file_write("events.jsonl", '{"n": 1}\n\n{"n": 2}\n')
    result = run_plugin("data.json", {"from": lines, "expression": "$[*].n", "language": "JSONPATH"})
    assert result.outputs == {"result": [1, 2]}
    forced = ctx.file_write("events.log", '{"n": 3}\n{"n": 4}\n')
    assert run_plugin("data.json", {"from": forced, "expression": "[].n", "format": "JSONL"}).outputs == {
        "result": [3, 4]
    }
    text_lines = run_plugin("data.json", {"from": "1\n2\n", "expression": "length(@)", "format": "JSONL"})
    assert text_lines.outputs == {"result": 2}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        pytest.param('{"a": }', "Invalid JSON at line 1 column 7", id="malformed"),
        pytest.param("not json", "Invalid JSON at line 1 column 1", id="plain-text"),
        pytest.param('{"a": NaN}', "NaN is not a JSON value", id="nan"),
        pytest.param("[" * 200 + "]" * 200, "deeper than 128", id="deep-text"),
    ],
)
def test_bad_json_text_fails_clearly(run_plugin: RunPlugin, source: str, message: str) -> None:
    result = run_plugin("data.json", {"from": source, "expression": "@"})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "INVALID_JSON")
    assert message in result.error


def test_bad_json_files_fail_with_their_line(run_plugin: RunPlugin, ctx: FakeContext) -> None:
    lines = ctx.file_write("bad.jsonl", '{"n": 1}\n{"n": \n')
    result = run_plugin("data.json", {"from": lines, "expression": "@"})
    assert result.error_code == "INVALID_JSON" and "Invalid JSON on line 2" in result.error
    binary = run_plugin("data.json", {"from": ctx.file_write("x.json", b"\xff\xfe"), "expression": "@"})
    assert binary.error_code == "INVALID_JSON" and "not UTF-8" in binary.error


def test_a_deep_value_is_refused(run_plugin: RunPlugin) -> None:
    deep: list = []
    for _ in range(200):
        deep = [deep]
    result = run_plugin("data.json", {"from": deep, "expression": "@"})
    assert result.error_code == "INVALID_JSON" and "deeper than 128" in result.error


def test_another_namespace_file_reads_as_missing(run_plugin: RunPlugin) -> None:
    theirs = FakeContext(namespace="elsewhere", write_prefix=f"elsewhere/executions/{uuid.uuid4()}/tasks/t")
    uri = theirs.file_write("data.json", '{"secret": 1}')
    result = run_plugin("data.json", {"from": uri, "expression": "secret"})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "FILE_NOT_FOUND")
    assert "secret" not in (result.outputs or {})
    forged = run_plugin("data.json", {"from": "millrace:///production/a/../../elsewhere/x", "expression": "@"})
    assert forged.error_code == "INVALID_INPUT"


def test_oversize_files_and_text_are_refused(run_plugin: RunPlugin, ctx: FakeContext, monkeypatch) -> None:
    monkeypatch.setattr(jsonquery, "MAX_JSON_CHARS", 100)
    uri = ctx.file_write("big.json", "[" + ",".join(["1"] * 100) + "]")
    result = run_plugin("data.json", {"from": uri, "expression": "@"})
    assert result.error_code == "QUERY_TOO_LARGE" and "larger than 100 bytes" in result.error
    text = run_plugin("data.json", {"from": " " * 101 + "1", "expression": "@"})
    assert text.error_code == "QUERY_TOO_LARGE"
    result = run_plugin("data.json", {"from": ["x" * 60, "y" * 60], "expression": "@"})
    assert result.error_code == "QUERY_TOO_LARGE" and "result is larger than 100" in result.error


@pytest.mark.parametrize(
    ("language", "expression", "message"),
    [
        pytest.param("JMESPATH", "orders[?", "JMESPath expression failed", id="jmespath-syntax"),
        pytest.param("JMESPATH", "sum(orders[].state)", "JMESPath expression failed", id="jmespath-type"),
        pytest.param("JMESPATH", "nope(@)", "Unknown function", id="jmespath-function"),
        pytest.param("JSONPATH", "$.orders[", "JSONPath expression failed", id="jsonpath-syntax"),
        pytest.param("JSONPATH", "foo bar", "JSONPath expression failed", id="jsonpath-tokens"),
        pytest.param("JSONPATH", "$.name.`split(x)`", "split(x) is not valid", id="jsonpath-function"),
        pytest.param("JSONPATH", "$.name * 1000000000", "multiplication is not available", id="jsonpath-multiply"),
        pytest.param("JSONPATH", '$.orders[?(@.state =~ "(a+)+$")]', "regular expressions", id="jsonpath-regex"),
        pytest.param("JSONPATH", "$.name.`sub(/s/, S)`", "regular expressions", id="jsonpath-sub"),
    ],
)
def test_bad_expressions_fail_clearly(run_plugin: RunPlugin, language: str, expression: str, message: str) -> None:
    result = run_plugin("data.json", {"from": SHOP, "expression": expression, "language": language})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "INVALID_EXPRESSION")
    assert message in result.error


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        pytest.param("[@, @]" + " | [@, @]" * 60, "result", id="doubling-by-reference"),
        pytest.param("[@, @] | []" + " | [@, @] | []" * 30, "more than 1000000 items", id="doubling-by-flatten"),
        pytest.param("[@, @]" + " | [@, @]" * 40 + " | to_string(@)", "result is larger", id="to-string"),
        pytest.param("[name, name] | [] " + "| [@, @] | [] " * 18 + "| join(',', @)", "join() would make", id="join"),
        pytest.param("(" * 800 + "@" + ")" * 800, "failed", id="deep-parentheses"),
    ],
)
def test_jmespath_cannot_grow_without_bound(run_plugin: RunPlugin, expression: str, message: str) -> None:
    result = run_plugin("data.json", {"from": {**SHOP, "name": "n" * 100}, "expression": expression})
    assert result.status == ResultStatus.FAILED and result.error_code in {"QUERY_TOO_LARGE", "INVALID_EXPRESSION"}
    assert message in result.error


def test_jmespath_steps_are_counted(monkeypatch) -> None:
    monkeypatch.setattr(jsonquery, "MAX_STEPS", 50)
    assert jsonquery.jmespath_search("[*].a", [{"a": 1}] * 10) == [1] * 10
    with pytest.raises(jsonquery.QueryError, match="more than 50 steps"):
        jsonquery.jmespath_search("[*].a", [{"a": 1}] * 100)


def test_data_transform_shares_the_bounds(run_plugin: RunPlugin) -> None:
    result = run_plugin("data.transform", {"expression": "[@, @] | []" + " | [@, @] | []" * 30, "data": [1]})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "QUERY_TOO_LARGE")


def test_an_infinite_result_is_refused(run_plugin: RunPlugin) -> None:
    result = run_plugin("data.json", {"from": {"n": "1" * 5000}, "expression": "to_number(n)"})
    assert result.error_code == "QUERY_TOO_LARGE" and "infinite" in result.error


@pytest.mark.parametrize(
    "inputs",
    [
        pytest.param({"expression": "@"}, id="no-from"),
        pytest.param({"from": 1}, id="no-expression"),
        pytest.param({"from": 1, "expression": ""}, id="empty-expression"),
        pytest.param({"from": 1, "expression": "x" * 3000}, id="long-expression"),
        pytest.param({"from": 1, "expression": 5}, id="number-expression"),
        pytest.param({"from": 1, "expression": "@", "language": "XPATH"}, id="language"),
        pytest.param({"from": 1, "expression": "@", "format": "XML"}, id="format"),
    ],
)
def test_wrong_inputs_are_refused_by_the_schema(inputs: dict) -> None:
    with pytest.raises(InputError):
        get_plugin("data.json").check_inputs(inputs)
