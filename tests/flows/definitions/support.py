"""Fake plugins and helpers shared by the definition tests."""

import textwrap
from typing import Any

from connectors.registry import Plugin
from flows.definitions import CompiledFlow, Problem, YamlLimits, compile_definition, validate_definition


class FakeLog(Plugin):
    id = "util.log"
    name = "Log"
    category = "util"
    input_schema = {
        "type": "object",
        "properties": {"message": {"type": "string"}, "level": {"enum": ["debug", "info", "warn", "error"]}},
        "required": ["message"],
        "additionalProperties": False,
    }


class FakeHttp(Plugin):
    id = "http.request"
    name = "HTTP"
    category = "http"
    input_schema = {
        "type": "object",
        "properties": {
            "url": {"type": "string", "minLength": 1},
            "method": {"enum": ["GET", "POST", "PUT", "DELETE"]},
            "headers": {"type": "object", "additionalProperties": {"type": "string"}},
            "timeout": {"type": "number"},
            "body": {},
        },
        "required": ["url"],
    }


class FakeWebhook(FakeHttp):
    id = "webhook"


class FakeEcho(Plugin):
    id = "util.echo"
    name = "Echo"
    category = "util"


class FakeCondition(Plugin):
    """A branching node: emits `true`/`false` as its outcome."""

    id = "logic.condition"
    name = "Condition"
    category = "logic"
    input_schema = {"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]}


def _control(type_id: str, schema: dict[str, Any]) -> type[Plugin]:
    attrs = {"id": type_id, "name": type_id, "category": "flow", "control": True, "input_schema": schema}
    return type(f"Fake{type_id.title().replace('.', '')}", (Plugin,), attrs)


CONTROL = [
    _control(
        "flow.if",
        {
            "type": "object",
            "required": ["condition"],
            "additionalProperties": False,
            "properties": {"condition": {"type": ["string", "boolean"]}},
        },
    ),
    _control("flow.switch", {"type": "object", "required": ["value"], "properties": {"value": {}}}),
    _control("flow.parallel", {"type": "object", "properties": {"concurrency": {"type": "integer"}}}),
    _control("flow.sequential", {"type": "object", "required": ["tasks"]}),  # required child: must be ignored
    _control(
        "flow.forEach",
        {
            "type": "object",
            "required": ["items"],
            "properties": {"items": {"type": "array"}, "concurrency": {"type": "integer"}},
        },
    ),
    _control("flow.pause", {"type": "object", "properties": {"delay": {"type": "string"}}}),
    _control("flow.fail", {"type": "object", "properties": {"message": {"type": "string"}}}),
    _control("flow.subflow", {"type": "object", "required": ["flow"]}),
]
FAKES: dict[str, type[Plugin]] = {
    plugin.id: plugin for plugin in [FakeLog, FakeHttp, FakeWebhook, FakeEcho, FakeCondition, *CONTROL]
}


def fake_lookup(type_id: str) -> type[Plugin] | None:
    return FAKES.get(type_id)


SEED_NODES_FLOW = (
    'metadata:\n  name: "My Flow"\n  description: "A simple flow"\n  version: "1.0.0"\n\nnodes:\n  start:\n'
    '    type: "http.request"\n    params:\n      url: "https://api.example.com/data"\n      method: "GET"\n'
    '    next:\n      default: "end"\n  \n  end:\n    type: "webhook"\n    params:\n'
    '      url: "https://webhook.example.com/callback"\n      method: "POST"\n'
)
"""The FlowRunner reference's example `definition`, verbatim (seed 001)."""

SEED_TASKS_FLOW = (
    "name: my-workflow\ntasks:\n  - name: hello\n    type: util.log\n    properties:\n      message: Hello world\n"
)
"""The workflowdev reference's `my-workflow` `yamlContent`, verbatim (seed 003)."""


NESTED = """
    name: orders
    tasks:
      - name: fetch
        type: http.request
        properties: {url: "https://example.com/orders"}
      - name: each
        type: flow.forEach
        properties:
          items: "{{ outputs.fetch.body }}"
          concurrency: 4
        tasks:
          - name: check
            type: flow.if
            condition: "{{ item.total > 100 }}"
            then:
              - name: big
                type: util.log
                properties: {message: big}
            else:
              - name: small
                type: util.log
                properties: {message: small}
      - name: route
        type: flow.switch
        properties:
          value: "{{ inputs.region }}"
          cases:
            eu:
              - name: to_eu
                type: util.echo
            true:
              - name: to_true
                type: util.echo
          default:
            - name: elsewhere
              type: util.echo
      - name: fan
        type: flow.parallel
        tasks:
          - name: left
            type: util.echo
          - name: right
            type: flow.sequential
            tasks:
              - name: right_1
                type: util.echo
              - name: right_2
                type: util.echo
      - name: done
        type: util.log
        properties: {message: done}
    errors:
      - name: alert
        type: util.log
        properties: {message: failed}
    """
"""Every block-holding control construct, nested; `alert` is an error handler."""

GRAPH = """
    metadata: {name: graph}
    nodes:
      start:
        type: http.request
        params: {url: "https://example.com"}
        next:
          default: decide
          error: recover
      decide:
        type: logic.condition
        params: {expression: "{{ outputs.start.status_code == 200 }}"}
        next:
          true: save
          false: wait
      wait:
        type: util.echo
        next: start
      save:
        type: util.log
        params: {message: saved}
      recover:
        type: util.log
        params: {message: recovering}
        next: {default: start, retry_later: wait}
    """
"""A nodes graph with outcome routes, an error route and cycles (`logic.condition` is a fake)."""


def yaml_text(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def compile_yaml(text: str, **kwargs: Any) -> CompiledFlow:
    kwargs.setdefault("plugin_lookup", fake_lookup)
    kwargs.setdefault("limits", YamlLimits())
    return compile_definition(yaml_text(text), **kwargs)


def problems_of(text: str, **kwargs: Any) -> list[Problem]:
    kwargs.setdefault("plugin_lookup", fake_lookup)
    kwargs.setdefault("limits", YamlLimits())
    return validate_definition(yaml_text(text), **kwargs)


def found(problems: list[Problem]) -> list[tuple[str, int | None, str]]:
    """(path, line, code) of each problem, to compare whole lists at once."""
    return [(problem.path, problem.line, problem.code) for problem in problems]
