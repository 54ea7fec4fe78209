"""Property: a definition converted to another format, created again, runs to the same outputs.

Over the example flows (flows/examples/*.yaml, flows/examples/kestra/*.yaml) and each
conversion the target format can express: tasks → kestra → tasks, tasks ⇄ nodes, kestra →
tasks/nodes. Original and converted run on the eager engine; every task's outputs (by name,
in order) and the declared outputs must match. (Undeclared flow outputs differ by format on
purpose: a graph answers its last node's, a task list each task's.)
"""

import json
from pathlib import Path

import pytest

from accounts.roles import Role
from executions.services import execution_start
from flows.definitions import compile_definition
from flows.definitions.convert import ConversionError, convert
from flows.models import Flow
from flows.services import flow_create
from tests.factories import AccountFactory, NamespaceFactory

EXAMPLES = Path(__file__).resolve().parents[2] / "flows" / "examples"
#: A straight FlowRunner graph (it converts to a task list and to Kestra).
LINEAR_GRAPH = """\
metadata: {name: linear}
inputs: [{id: n, type: INT, defaults: 3}]
nodes:
  start: {type: util.log, params: {message: "n={{ inputs.n }}"}, next: double}
  double: {type: util.echo, params: {value: {value: "{{ inputs.n * 2 }}"}}, next: store}
  store: {type: kv.set, params: {key: doubled, value: "{{ outputs.double.value }}"}, next: read}
  read: {type: kv.get, params: {key: doubled}}
"""
#: A workflowdev flow using what Kestra can say: a loop, a switch, an allowed failure, finally.
KESTRA_SHAPED = """\
name: shaped
inputs: [{id: items, type: JSON, defaults: [1, 2, 3]}]
tasks:
  - name: each
    type: flow.forEach
    items: "{{ inputs.items }}"
    concurrency: 2
    tasks:
      - {name: show, type: util.log, properties: {message: "item {{ item }}"}}
  - name: pick
    type: flow.switch
    value: "{{ inputs.items | length }}"
    cases:
      "3": [{name: three, type: util.echo, properties: {value: {value: three}}}]
    default: [{name: other, type: util.echo, properties: {value: {value: other}}}]
  - {name: tolerated, type: flow.fail, allowFailure: true, properties: {message: tolerated}}
finally:
  - {name: tidy, type: util.log, properties: {message: done}}
outputs:
  - {id: picked, type: STRING, value: "{{ outputs.three.value if outputs.get('three') else 'none' }}"}
"""
#: Kestra's Labels task (engine-interpreted) between plugin steps.
KESTRA_LABELS = """\
id: labelled
namespace: company.team
inputs: [{id: stage, type: STRING, defaults: loaded}]
tasks:
  - {id: count, type: io.kestra.plugin.core.debug.Return, format: "3"}
  - id: tag
    type: io.kestra.plugin.core.execution.Labels
    labels: [{key: stage, value: "{{ inputs.stage }}"}, {key: rows, value: "{{ outputs.count.value }}"}]
  - {id: after, type: io.kestra.plugin.core.log.Log, message: "tagged {{ outputs.tag.labels.rows }}"}
"""
SOURCES = {
    "hello": (EXAMPLES / "hello.yaml").read_text(),
    "graph": (EXAMPLES / "graph.yaml").read_text(),
    "approval": (EXAMPLES / "approval.yaml").read_text(),
    "kestra-hello-world": (EXAMPLES / "kestra" / "hello-world.yaml").read_text(),
    "kestra-orders-etl": (EXAMPLES / "kestra" / "orders-etl.yaml").read_text(),
    "kestra-api-report": (EXAMPLES / "kestra" / "api-report.yaml").read_text(),
    # runs in test_kestra_examples: its outputs name files of each execution, which differ by run
    "kestra-daily-summary": (EXAMPLES / "kestra" / "daily-summary.yaml").read_text(),
    "kestra-labels": KESTRA_LABELS,
    "linear-graph": LINEAR_GRAPH,
    "kestra-shaped": KESTRA_SHAPED,
}
#: (source, inputs): the ones that run without outside services or a person's approval.
RUNNABLE = [
    ("hello", {"who": "Ada"}),
    ("graph", {"fail": True}),
    ("graph", {"fail": False}),
    ("kestra-hello-world", {"user": "Grace"}),
    ("kestra-orders-etl", {"region": "EU"}),
    ("kestra-orders-etl", {"region": "APAC"}),
    ("linear-graph", {"n": 4}),
    ("kestra-shaped", {}),
    ("kestra-shaped", {"items": [5]}),
    ("kestra-labels", {"stage": "checked"}),
]
CHAINS = [
    ("tasks",),
    ("nodes",),
    ("kestra",),
    ("tasks", "kestra", "tasks"),
    ("tasks", "nodes"),
    ("nodes", "tasks"),
    ("kestra", "nodes"),
]


@pytest.fixture
def team(settings, transactional_db):
    settings.MILLRACE_ENGINE_EAGER = True
    return NamespaceFactory(name="company.team")


def _chain(source: str, chain: tuple[str, ...]) -> str | None:
    """The source converted along `chain`; None when a step of it cannot express the flow."""
    for target in chain:
        try:
            source = convert(compile_definition(source), target, namespace="company.team")
        except ConversionError:
            return None
    return source


def _run(team, source: str, inputs: dict) -> tuple[str, list[tuple[str, object]], object, dict]:
    actor = AccountFactory(role=Role.EDITOR, default_namespace=team)
    flow = flow_create(actor=actor, namespace=team, source=source)
    execution = execution_start(actor=actor, flow=flow, inputs=inputs)
    execution.refresh_from_db()
    Flow.objects.filter(pk=flow.pk).update(name=f"ran-{flow.pk}")  # the next one takes the same name
    runs = sorted(execution.task_runs.all(), key=lambda run: run.sequence)
    tasks = [(run.name, json.loads(json.dumps(run.outputs, sort_keys=True))) for run in runs]
    declared = execution.outputs if compile_definition(source).outputs else None
    ordered = sorted(tasks, key=lambda item: (item[0], json.dumps(item[1])))
    return execution.status, ordered, declared, execution.labels


@pytest.mark.parametrize(("name", "inputs"), RUNNABLE, ids=[f"{n}-{json.dumps(i)}" for n, i in RUNNABLE])
def test_converted_flows_run_to_the_same_outputs(team, name, inputs):
    original = SOURCES[name]
    expected = _run(team, original, inputs)
    converted = 0
    for chain in CHAINS:
        source = _chain(original, chain)
        if source is None:
            continue
        converted += 1
        assert _run(team, source, inputs) == expected, (chain, source)
    assert converted >= 1


def test_each_format_is_reached_from_another_one():
    """Every source converts to its own format; each format is reached from another by some source."""
    reached: set[tuple[str, str]] = set()
    for name, source in SOURCES.items():
        flow = compile_definition(source)
        for target in ("nodes", "tasks", "kestra"):
            try:
                again = compile_definition(convert(flow, target, namespace="company.team"))
            except ConversionError as exc:
                assert exc.reasons and target != flow.format, (name, target, exc.reasons)
                continue
            assert again.format == target and [s.name for s in again.steps()] == [s.name for s in flow.steps()]
            reached.add((flow.format.value, target))
    pairs = {("tasks", "kestra"), ("tasks", "nodes"), ("nodes", "tasks"), ("nodes", "kestra"), ("kestra", "tasks")}
    assert pairs <= reached
