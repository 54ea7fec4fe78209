"""Schedules, trigger rules and extraction, without a database."""

from datetime import timedelta

import pytest

from agents import schedules
from agents.http_types import extract_html, extract_json
from agents.logic_types import WebhookAgent, rule_matches
from agents.types import AgentError, agent_type, json_path
from tests.agents.conftest import T0


@pytest.mark.parametrize(
    ("schedule", "last", "now", "due"),
    [
        ("never", None, T0, False),
        ("every_1m", None, T0, True),
        ("every_1m", T0, T0 + timedelta(seconds=58), False),
        ("every_1m", T0 + timedelta(seconds=3), T0 + timedelta(minutes=1, seconds=1), True),
        ("every_2h", T0, T0 + timedelta(minutes=119), False),
        ("every_2h", T0, T0 + timedelta(hours=2), True),
        ("every_7d", T0, T0 + timedelta(days=7), True),
        ("midnight", None, T0.replace(hour=0, minute=0, second=20), True),
        ("midnight", None, T0.replace(hour=0, minute=1), False),
        ("midnight", T0.replace(hour=0, minute=0, second=20), T0.replace(hour=0, minute=1), False),
        ("7pm", None, T0.replace(hour=19, minute=0), True),
        ("12am", None, T0.replace(hour=0, minute=0), True),
        ("12pm", None, T0.replace(hour=12, minute=0), True),
        ("*/15 * * * *", T0, T0 + timedelta(minutes=14), False),
        ("*/15 * * * *", T0, T0 + timedelta(minutes=15), True),
    ],
)
def test_is_due(schedule, last, now, due):
    assert schedules.is_due(schedule, last, now) is due


@pytest.mark.parametrize("schedule", ["every_3m", "13pm", "sometimes", "* * *"])
def test_invalid_schedules(schedule):
    assert not schedules.is_valid(schedule)


@pytest.mark.parametrize(
    ("rule", "payload", "hit"),
    [
        ({"type": "regex", "path": "title", "value": "^al"}, {"title": "alpha"}, True),
        ({"type": "!regex", "path": "title", "value": "^al"}, {"title": "alpha"}, False),
        ({"type": "field==value", "path": "a.b", "value": "2"}, {"a": {"b": 2}}, True),
        ({"type": "field==value", "path": "a", "value": ["x", "y"]}, {"a": "y"}, True),
        ({"type": "field!=value", "path": "a", "value": "x"}, {"a": "y"}, True),
        ({"type": "field!=value", "path": "missing", "value": "x"}, {}, True),
        ({"type": "field>value", "path": "n", "value": "3"}, {"n": 5}, True),
        ({"type": "field<value", "path": "n", "value": "3"}, {"n": 5}, False),
        ({"type": "field<value", "path": "n", "value": "3"}, {"n": "abc"}, False),
        ({"type": "field>=value", "path": "n", "value": 5}, {"n": "5"}, True),
    ],
)
def test_trigger_rules(rule, payload, hit):
    assert rule_matches(rule, payload) is hit


def test_extract_json_zips_columns_and_refuses_uneven_ones():
    body = {"data": {"items": [{"t": "a", "u": 1}, {"t": "b", "u": 2}]}}
    assert extract_json(body, {"t": {"path": "data.items[*].t"}, "u": {"path": "$.data.items[*].u"}}) == [
        {"t": "a", "u": 1},
        {"t": "b", "u": 2},
    ]
    with pytest.raises(AgentError, match="different counts"):
        extract_json(body, {"t": {"path": "data.items[*].t"}, "one": {"path": "data"}})


@pytest.mark.parametrize("body", ["[" * 100_000 + "]" * 100_000, '{"a": NaN}', '{"a": Infinity}'])
def test_extract_json_refuses_what_no_message_could_hold(body):
    """A body nested past the recursion limit, or using NaN/Infinity, is no JSON for an agent."""
    with pytest.raises(AgentError, match="not JSON"):
        extract_json(body, {"a": {"path": "a"}})


def test_extract_html_by_css():
    html = '<ul><li><a href="/1"> One </a></li><li><a href="/2">Two\n  items</a></li></ul>'
    spec = {"title": {"css": "li a", "value": "normalize-space(.)"}, "url": {"css": "li a", "value": "@href"}}
    assert extract_html(html, spec) == [{"title": "One", "url": "/1"}, {"title": "Two items", "url": "/2"}]
    with pytest.raises(AgentError):
        extract_html(html, {"x": {"css": "li[", "value": "."}})


def test_webhook_payload_path():
    assert WebhookAgent.payloads({}, {"a": 1}) == [{"a": 1}]
    assert WebhookAgent.payloads({"payload_path": "items"}, {"items": [{"a": 1}, 2]}) == [{"a": 1}, {"value": 2}]


def test_types_resolve_huginn_names_and_plugins():
    assert agent_type("Agents::PostAgent").name == "Agents::PostAgent"
    assert agent_type("TriggerAgent").name == "Agents::TriggerAgent"
    assert agent_type("http.request").plugin.id == "http.request"
    for unknown in ("flow.if", "Agents::Nope"):
        with pytest.raises(LookupError):
            agent_type(unknown)


def test_json_path_is_bounded():
    """An expression that doubles its result 40 times stops with an error instead of eating memory."""
    with pytest.raises(AgentError, match="more than"):
        json_path({"a": 1}, " | ".join(["[@, @][]"] * 40))
