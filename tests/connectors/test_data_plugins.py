"""data.set, data.transform (JMESPath), data.template (Jinja2 sandbox), data.json.parse/stringify."""

from __future__ import annotations

import pytest

from connectors.registry import ResultStatus

from .conftest import RunPlugin

ORDERS = {"orders": [{"id": 1, "total": 30, "state": "paid"}, {"id": 2, "total": 5, "state": "open"}]}


def test_set_outputs_its_values(run_plugin: RunPlugin) -> None:
    values = {"region": "eu", "limits": {"max": 3}, "tags": ["a"]}
    assert run_plugin("data.set", {"values": values}).outputs == values


def test_transform_evaluates_jmespath(run_plugin: RunPlugin) -> None:
    result = run_plugin("data.transform", {"expression": "orders[?state=='paid'].id", "data": ORDERS})
    assert result.outputs == {"value": [1]}
    result = run_plugin("data.transform", {"expression": "sum(orders[].total)", "data": ORDERS})
    assert result.outputs == {"value": 35}


@pytest.mark.parametrize("expression", ["orders[?", "sum(orders[].state)"])
def test_transform_fails_clearly_on_a_bad_expression(run_plugin: RunPlugin, expression: str) -> None:
    result = run_plugin("data.transform", {"expression": expression, "data": ORDERS})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "INVALID_EXPRESSION")
    assert result.error.startswith("JMESPath expression failed")


def test_template_renders_with_data_and_its_keys(run_plugin: RunPlugin) -> None:
    template = "{% for o in orders %}{{ o.id }}:{{ o.total }} {% endfor %}of {{ data.orders | length }}"
    assert run_plugin("data.template", {"template": template, "data": ORDERS}).outputs == {"text": "1:30 2:5 of 2"}
    assert run_plugin("data.template", {"template": "{{ data * 2 }}", "data": 21}).outputs == {"text": "42"}


@pytest.mark.parametrize(
    "template",
    [
        "{{ missing.name }}",  # undefined names are errors, not empty text
        "{% if %}",  # syntax
        "{{ ''.__class__.__mro__ }}",  # the sandbox
        "{{ orders.append(3) }}",  # immutable
        "{{ 'x' * 100000000 }}",  # memory
        "{{ 10 ** 100000000 }}",  # CPU
        "{{ (2 ** 1000) ** 1000 }}",  # CPU, in steps
        "{{ 10.0 ** 1000 }}",  # overflow
        "{{ 1 / 0 }}",  # arithmetic
    ],
)
def test_template_failures(run_plugin: RunPlugin, template: str) -> None:
    result = run_plugin("data.template", {"template": template, "data": {"orders": [1, 2]}})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "TEMPLATE_ERROR")
    assert result.error.startswith("Template error")


def test_json_parse(run_plugin: RunPlugin) -> None:
    assert run_plugin("data.json.parse", {"text": '{"a": [1, 2.5, null]}'}).outputs == {"value": {"a": [1, 2.5, None]}}


@pytest.mark.parametrize(
    ("text", "message"), [('{"a": 1,}', "line 1 column 9"), ("[1,\n  x]", "line 2"), ("NaN", "NaN")]
)
def test_json_parse_fails_clearly(run_plugin: RunPlugin, text: str, message: str) -> None:
    result = run_plugin("data.json.parse", {"text": text})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "INVALID_JSON")
    assert message in result.error


def test_json_stringify(run_plugin: RunPlugin) -> None:
    value = {"b": "ü", "a": [1, None]}
    assert run_plugin("data.json.stringify", {"value": value}).outputs == {"text": '{"b":"ü","a":[1,null]}'}
    indented = run_plugin("data.json.stringify", {"value": {"a": 1}, "indent": 2}).outputs["text"]
    assert indented == '{\n  "a": 1\n}'
