"""Validation against the real plugin catalog (`connectors.registry.get_plugin`, the default).

These need the built-in plugins they name (http.request, webhook, util.log, flow.forEach);
they are not skipped when one is missing, so a missing built-in shows up here.
"""

import pytest

from flows.definitions import FlowFormat, compile_definition, validate_definition
from tests.flows.definitions.support import GRAPH, NESTED, SEED_NODES_FLOW, SEED_TASKS_FLOW, yaml_text

pytestmark = pytest.mark.registry


def test_seed_flowrunner_example_is_valid_against_the_catalog():
    flow = compile_definition(SEED_NODES_FLOW)
    assert flow.format == FlowFormat.NODES
    assert [step.type for step in flow.steps()] == ["http.request", "webhook"]


def test_seed_workflowdev_example_is_valid_against_the_catalog():
    flow = compile_definition(SEED_TASKS_FLOW)
    assert flow.step("hello").inputs == {"message": "Hello world"}


def test_real_http_schema_catches_literal_mistakes_and_skips_templates():
    problems = validate_definition(
        yaml_text("""
            nodes:
              start:
                type: http.request
                params:
                  url: "{{ inputs.url }}"
                  method: FETCH
                  timeout: "{{ inputs.timeout }}"
            """)
    )
    assert [(p.path, p.line, p.code) for p in problems] == [("nodes.start.params.method", 6, "invalid_input")]


def test_unknown_type_against_the_catalog():
    problems = validate_definition("tasks:\n  - {name: a, type: no.such.plugin}\n")
    assert [(p.path, p.code) for p in problems] == [("tasks[0].type", "unknown_plugin")]


def test_log_inside_a_foreach_against_the_catalog():
    source = yaml_text("""
        name: loop
        tasks:
          - name: each
            type: flow.forEach
            items: [1, 2, 3]
            tasks:
              - name: say
                type: util.log
                properties: {message: "item {{ item }}"}
        """)
    assert validate_definition(source) == []
    assert compile_definition(source).tasks_total == 2


def test_every_control_construct_against_the_catalog():
    flow = compile_definition(yaml_text(NESTED))
    assert flow.tasks_total == 15
    assert [block.id for block in flow.step("route").child_blocks()] == [
        "route:case:eu",
        "route:case:true",
        "route:default",
    ]


def test_graph_with_unknown_branching_type_against_the_catalog():
    # GRAPH uses the fake `logic.condition`; the catalog does not know it
    problems = validate_definition(yaml_text(GRAPH))
    assert [(p.path, p.code) for p in problems] == [("nodes.decide.type", "unknown_plugin")]
