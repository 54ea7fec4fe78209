"""`convert`: a compiled flow written in the nodes, tasks and Kestra formats, or why it cannot be."""

import pytest
import yaml

from flows.definitions import FlowFormat, compile_definition
from flows.definitions.convert import ConversionError, convert, convert_source
from flows.definitions.kestra import KESTRA_PY

pytestmark = pytest.mark.registry

FULL_TASKS = """\
name: full
namespace: company.team
description: Every flow-level key
labels: {team: data}
inputs:
  - {id: who, type: STRING, defaults: me}
  - {id: n, type: INT, required: true}
variables: {greeting: hi}
concurrency: {limit: 2, behavior: CANCEL}
triggers:
  - {name: nightly, type: schedule, cron: "0 2 * * *", timezone: Europe/Paris}
  - {name: hook, type: webhook, key: a-long-enough-webhook-key-0123456789}
  - {name: after, type: flow, flow: upstream, statuses: [SUCCESS, FAILED]}
tasks:
  - name: call
    type: http.request
    properties:
      {url: "https://example.com", method: POST, body: raw text, body_format: raw, headers: {Content-Type: text/plain}}
    retry: {maxAttempts: 3, delay: PT2S, backoff: 2}
    timeout: PT30S
  - name: each
    type: flow.forEach
    items: [1, 2]
    concurrency: 2
    tasks:
      - {name: show, type: util.log, properties: {message: "{{ item }} {{ outputs.call.status_code }}"}}
  - name: check
    type: flow.if
    condition: "{{ inputs.n > 1 }}"
    then: [{name: big, type: util.echo, properties: {value: {value: big}}}]
    else: [{name: small, type: kv.set, properties: {key: k, value: 1, ttl: 60}}]
  - name: py
    type: script.python
    allowFailure: true
    properties: {script: "print(1)\\nprint(2)\\n"}
errors:
  - {name: alert, type: util.log, properties: {message: failed}}
finally:
  - {name: tidy, type: kv.delete, properties: {key: k}}
outputs:
  - {id: said, type: STRING, value: "{{ outputs.big.value }}"}
"""


def shape(flow):
    """What must survive a conversion: every step's name, type, inputs and policies, and the flow's keys."""
    steps = [
        (
            s.name,
            s.type,
            s.inputs,
            s.retry,
            s.timeout,
            s.allow_failure,
            s.concurrency,
            sorted(s.blocks),
            sorted(s.cases),
        )
        for s in flow.steps()
    ]
    triggers = [
        (t.name, t.type, t.cron, t.timezone, t.key, t.source_flow, t.statuses, t.enabled) for t in flow.triggers
    ]
    return (
        flow.name,
        flow.description,
        flow.labels,
        [(i.id, i.type, i.required, i.default) for i in flow.inputs],
        flow.variables,
        flow.concurrency,
        triggers,
        [(o.id, o.type, o.value) for o in flow.outputs],
        steps,
        [s.name for s in flow.errors.steps],
        [s.name for s in flow.finally_.steps],
    )


def test_tasks_to_kestra_and_back_keeps_everything():
    flow = compile_definition(FULL_TASKS)
    text = convert(flow, "kestra")
    document = yaml.safe_load(text)
    assert document["id"] == "full" and document["namespace"] == "company.team"
    call, each, check, py = document["tasks"]
    assert call == {
        "id": "call",
        "type": "io.kestra.plugin.core.http.Request",
        "uri": "https://example.com",
        "method": "POST",
        "body": "raw text",
        "contentType": "text/plain",
        "retry": {"type": "exponential", "maxAttempt": 3, "interval": "PT2S"},
        "timeout": "PT30S",
    }
    assert each["type"] == "io.kestra.plugin.core.flow.ForEach" and each["values"] == [1, 2]
    assert each["concurrencyLimit"] == 2
    assert each["tasks"][0]["message"] == "{{ taskrun.value }} {{ outputs.call.code }}"
    assert check["then"][0] == {"id": "big", "type": "io.kestra.plugin.core.debug.Return", "format": "big"}
    assert check["else"][0]["ttl"] == "PT60S"
    assert py["type"] == "io.kestra.plugin.scripts.python.Script" and py["allowFailure"] is True
    assert "script: |" in text  # scripts stay readable
    assert document["inputs"][0] == {"id": "who", "type": "STRING", "required": False, "defaults": "me"}
    assert document["triggers"][2]["preconditions"] == {
        "flows": [{"flowId": "upstream", "states": ["SUCCESS", "FAILED"]}]
    }
    again = compile_definition(text)
    assert again.format == FlowFormat.KESTRA
    back = compile_definition(convert(again, "tasks"))
    assert back.format == FlowFormat.TASKS
    python = back.step("py").inputs.pop("inputFiles")  # the Kestra helper, which a Kestra script may import
    assert python == {"kestra.py": KESTRA_PY}
    assert shape(back) == shape(flow)


def test_kestra_to_tasks_drops_the_helper_going_back():
    source = "id: a\nnamespace: n\ntasks:\n  - {id: py, type: io.kestra.plugin.scripts.python.Script, script: x}\n"
    document = yaml.safe_load(convert(compile_definition(source), "kestra"))
    assert document["tasks"] == [{"id": "py", "type": "io.kestra.plugin.scripts.python.Script", "script": "x"}]


def test_tasks_to_nodes_chains_the_steps():
    source = "name: s\ntasks:\n" + "".join(
        f"  - {{name: s{i}, type: util.log, properties: {{message: m{i}}}}}\n" for i in range(3)
    )
    document = yaml.safe_load(convert(compile_definition(source), "nodes"))
    assert document == {
        "metadata": {"name": "s"},
        "nodes": {
            "s0": {"type": "util.log", "params": {"message": "m0"}, "next": "s1"},
            "s1": {"type": "util.log", "params": {"message": "m1"}, "next": "s2"},
            "s2": {"type": "util.log", "params": {"message": "m2"}},
        },
    }
    assert compile_definition(convert(compile_definition(source), "nodes")).format == FlowFormat.NODES


@pytest.mark.parametrize(
    ("source", "target", "reason"),
    [
        (
            "nodes:\n  a: {type: util.log, params: {message: x}, next: b}\n"
            "  b: {type: util.log, params: {message: y}, next: a}\n",
            "tasks",
            "node 'a' is reached again (a cycle)",
        ),
        (
            "nodes:\n  a: {type: data.json.parse, params: {text: x}, next: {default: b, error: c}}\n"
            "  b: {type: util.log, params: {message: y}}\n  c: {type: util.log, params: {message: z}}\n",
            "kestra",
            "node 'a' routes on error",
        ),
        (
            "nodes:\n  a: {type: webhook, params: {url: 'https://example.com'}}\n",
            "tasks",
            "node 'a' takes the previous node's outputs",
        ),
        (
            "name: x\ntasks:\n  - {name: t, type: util.log, properties: {message: m}}\n"
            "finally:\n  - {name: f, type: util.log, properties: {message: m}}\n",
            "nodes",
            "'finally' tasks have no place in a graph",
        ),
        (
            "name: x\ntasks:\n  - {name: e, type: util.echo, properties: {value: 1}}\n",
            "kestra",
            "task 'e' (util.echo): Kestra's Return outputs `value`",
        ),
        (
            "name: x\ntimeoutPolicy: ALERT_ONLY\ntasks:\n  - {name: t, type: util.log, properties: {message: m}}\n",
            "kestra",
            "timeoutPolicy ALERT_ONLY has no Kestra form",
        ),
        (
            "name: x\ntasks:\n  - {name: h, type: http.request, properties: {url: 'https://a.b', params: {q: 1}}}\n",
            "kestra",
            "task 'h' (http.request): Kestra has no property for params",
        ),
    ],
    ids=["cycle", "error-route", "previous-outputs", "finally", "echo", "timeout-policy", "http-params"],
)
def test_what_a_format_cannot_say_is_named(source, target, reason):
    with pytest.raises(ConversionError) as caught:
        convert(compile_definition(source), target, namespace="n")
    assert any(item.startswith(reason) for item in caught.value.reasons), caught.value.reasons
    assert reason in str(caught.value)


def test_a_kestra_flow_needs_a_namespace():
    with pytest.raises(ConversionError, match="a Kestra flow needs a namespace"):
        convert(
            compile_definition("name: x\ntasks:\n  - {name: t, type: util.log, properties: {message: m}}\n"), "kestra"
        )


def test_an_unknown_target_is_refused():
    with pytest.raises(ValueError, match="'yaml' is not a valid FlowFormat"):
        convert_source(FULL_TASKS, "yaml")
