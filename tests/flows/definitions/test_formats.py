"""Format detection and the top level of both formats."""

import pytest

from flows.definitions import FlowFormat, TimeoutPolicy, detect_format
from flows.definitions.loader import load_yaml
from tests.flows.definitions.support import SEED_NODES_FLOW, SEED_TASKS_FLOW, compile_yaml, found, problems_of


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"nodes": {"a": {"type": "x"}}}, FlowFormat.NODES),
        ({"metadata": {}, "nodes": {}}, FlowFormat.NODES),
        ({"name": "x", "tasks": []}, FlowFormat.TASKS),
        ({"name": "x"}, None),
        ({"nodes": {}, "tasks": []}, None),
        (["tasks"], None),
        ("tasks", None),
    ],
)
def test_detect_format(data: object, expected: FlowFormat | None):
    assert detect_format(data) == expected


def test_seed_flowrunner_example_compiles_as_a_nodes_graph():
    flow = compile_yaml(SEED_NODES_FLOW)
    assert flow.format == FlowFormat.NODES
    assert (flow.name, flow.description, flow.version) == ("My Flow", "A simple flow", "1.0.0")
    assert [step.id for step in flow.main.steps] == ["start", "end"]
    start = flow.step("start")
    assert (start.type, start.inputs) == ("http.request", {"url": "https://api.example.com/data", "method": "GET"})
    assert start.next == {"default": "end"}
    assert (start.path, start.line) == ("nodes.start", 7)
    assert flow.step("end").inputs["method"] == "POST"
    assert flow.entry() is start
    assert flow.successor("start") is flow.step("end")
    assert flow.successor("end") is None
    assert flow.tasks_total == 2


def test_seed_workflowdev_example_compiles_as_a_task_list():
    flow = compile_yaml(SEED_TASKS_FLOW)
    assert flow.format == FlowFormat.TASKS
    assert flow.name == "my-workflow"
    hello = flow.entry()
    assert (hello.id, hello.name, hello.type, hello.inputs) == (
        "hello",
        "hello",
        "util.log",
        {"message": "Hello world"},
    )
    assert (hello.path, hello.line) == ("tasks[0]", 3)
    assert flow.timeout_policy == TimeoutPolicy.TIME_OUT_WF
    assert flow.tasks_total == 1


def test_tasks_format_top_level_fields():
    flow = compile_yaml("""
        id: nightly
        namespace: production
        description: Nightly sync
        version: 2
        timeout: 600
        timeoutPolicy: alert_only
        tags: [sync]
        labels: {team: data}
        variables:
          base: https://example.com
          retries: 3
        tasks:
          - name: a
            type: util.echo
        """)
    assert (flow.name, flow.namespace, flow.description, flow.version) == ("nightly", "production", "Nightly sync", "2")
    assert (flow.timeout, flow.timeout_policy) == (600, TimeoutPolicy.ALERT_ONLY)
    assert (flow.tags, flow.labels) == (["sync"], {"team": "data"})
    assert flow.variables == {"base": "https://example.com", "retries": 3}


@pytest.mark.parametrize(
    ("source", "code", "words"),
    [
        ("- name: a\n  type: util.log\n", "not_mapping", "not a list"),
        ("just a string\n", "not_mapping", "not a string"),
        ("42\n", "not_mapping", "not a number"),
        ("", "empty", "empty"),
        ("name: x\ndescription: nothing to run\n", "format", "no 'tasks' list"),
        ("nodes: {a: {type: util.echo}}\ntasks: []\n", "format", "not both"),
    ],
)
def test_documents_that_are_no_flow_at_all(source: str, code: str, words: str):
    problems = problems_of(source)
    assert [(p.path, p.line, p.code) for p in problems] == [("", 1, code)]
    assert words in problems[0].message


def test_unknown_top_level_keys_are_reported_in_both_formats():
    assert found(problems_of("name: x\ntask:\n  - name: a\ntasks:\n  - {name: a, type: util.echo}\n")) == [
        ("task", 2, "unknown_key")
    ]
    nodes = problems_of("metadata: {name: x, owner: me}\nname: x\nnodes:\n  a: {type: util.echo}\n")
    assert found(nodes) == [("metadata.owner", 1, "unknown_key"), ("name", 2, "unknown_key")]


@pytest.mark.parametrize(
    ("source", "path", "line", "words"),
    [
        ("name: x\ntasks:\n  a: {type: util.echo}\n", "tasks", 2, "must be a list of tasks, not a mapping"),
        ("name: x\ntasks: []\n", "tasks", 2, "at least one task"),
        ("nodes: []\n", "nodes", 1, "non-empty mapping"),
        ("nodes: {}\n", "nodes", 1, "not empty"),
        ("metadata: [x]\nnodes: {a: {type: util.echo}}\n", "metadata", 1, "must be a mapping"),
        ("name: x\nvariables: [1]\ntasks: [{name: a, type: util.echo}]\n", "variables", 2, "must be a mapping"),
        ("name: [x]\ntasks: [{name: a, type: util.echo}]\n", "name", 1, "must be a string"),
        ("name: x\ntags: sync\ntasks: [{name: a, type: util.echo}]\n", "tags", 2, "list of strings"),
        ("name: x\ntimeoutPolicy: NEVER\ntasks: [{name: a, type: util.echo}]\n", "timeoutPolicy", 2, "TIME_OUT_WF"),
        ("name: x\nerrors: {a: 1}\ntasks: [{name: a, type: util.echo}]\n", "errors", 2, "must be a list of tasks"),
    ],
)
def test_wrong_types_at_the_top_level(source: str, path: str, line: int, words: str):
    problems = problems_of(source)
    assert [(p.path, p.line) for p in problems] == [(path, line)]
    assert words in problems[0].message


def test_nodes_entry_is_start_else_the_first_node():
    flow = compile_yaml("""
        nodes:
          first: {type: util.echo, next: start}
          start: {type: util.echo, next: first}
        """)
    assert flow.start == "start" and flow.entry().id == "start"
    flow = compile_yaml("""
        nodes:
          fetch: {type: util.echo, next: save}
          save: {type: util.echo}
        """)
    assert flow.start == "fetch" and flow.entry().id == "fetch"


def test_node_ids_written_as_numbers_or_booleans_become_text():
    flow = compile_yaml("nodes:\n  2: {type: util.echo, next: 'true'}\n  true: {type: util.echo}\n")
    assert [step.id for step in flow.main.steps] == ["2", "true"]
    assert flow.successor("2").id == "true"


def test_the_loader_keeps_line_numbers_for_the_seed_example():
    lines = load_yaml(SEED_NODES_FLOW).source_map
    assert lines.line(("nodes", "start", "next", "default")) == 13
    assert lines.line(("nodes", "end", "params", "url")) == 18
