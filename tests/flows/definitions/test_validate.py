"""Validation: every problem kind, with its path and line, all reported at once."""

import json

import pytest

from connectors.registry import Plugin
from flows.definitions import (
    CompiledFlow,
    DefinitionError,
    Problem,
    YamlLimits,
    compile_definition,
    validate_definition,
)
from tests.flows.definitions.support import compile_yaml, fake_lookup, found, problems_of, yaml_text


def test_a_valid_definition_has_no_problems_and_compiles():
    source = """
        name: ok
        tasks:
          - name: fetch
            type: http.request
            properties: {url: "https://example.com", method: GET, timeout: 5}
        """
    assert problems_of(source) == []
    assert isinstance(compile_yaml(source), CompiledFlow)


def test_unknown_plugin_type():
    problems = problems_of("tasks:\n  - name: a\n    type: util.teleport\n")
    assert found(problems) == [("tasks[0].type", 3, "unknown_plugin")]
    assert problems[0].message == "unknown plugin type 'util.teleport'"


def test_inputs_failing_the_plugin_schema_name_the_input_and_its_line():
    problems = problems_of("""
        tasks:
          - name: call
            type: http.request
            properties:
              method: FETCH
              timeout: soon
              headers:
                X-Count: 3
        """)
    assert found(problems) == [
        ("tasks[0].properties", 4, "invalid_input"),
        ("tasks[0].properties.method", 5, "invalid_input"),
        ("tasks[0].properties.timeout", 6, "invalid_input"),
        ("tasks[0].properties.headers.X-Count", 8, "invalid_input"),
    ]
    assert problems[0].message == "invalid input for http.request: 'url' is a required property"
    assert "'FETCH' is not one of" in problems[1].message


def test_template_values_are_not_schema_checked_because_they_render_at_run_time():
    problems = problems_of("""
        tasks:
          - name: call
            type: http.request
            properties:
              url: "{{ vars.base }}/orders"
              method: "{{ inputs.method }}"
              timeout: "{{ inputs.timeout }}"
              headers:
                X-Token: "${API_TOKEN}"
                X-Count: "{% if inputs.n %}{{ inputs.n }}{% endif %}"
          - name: later
            type: http.request
            properties:
              url: https://example.com
              headers: "{{ outputs.call.headers }}"
              timeout: not-a-number
        """)
    # only the literal mistake in the second task: every templated value was skipped
    assert found(problems) == [("tasks[1].properties.timeout", 16, "invalid_input")]


def test_nodes_params_are_schema_checked_too():
    problems = problems_of("nodes:\n  start:\n    type: util.log\n    params:\n      message: [not, text]\n")
    assert found(problems) == [("nodes.start.params.message", 5, "invalid_input")]


def test_unknown_next_targets_in_maps_and_plain_strings():
    problems = problems_of("""
        nodes:
          start:
            type: util.echo
            next:
              default: middle
              error: nowhere
          middle:
            type: util.echo
            next: finish
        """)
    assert found(problems) == [
        ("nodes.start.next.error", 6, "unknown_target"),
        ("nodes.middle.next", 9, "unknown_target"),
    ]
    assert "next target 'nowhere' is not a node of this flow" in problems[0].message


def test_unreachable_nodes():
    problems = problems_of("""
        nodes:
          start: {type: util.echo, next: {default: a, error: handler}}
          a: {type: util.echo}
          handler: {type: util.echo}
          orphan: {type: util.echo, next: island}
          island: {type: util.echo, next: orphan}
        """)
    assert found(problems) == [("nodes.orphan", 5, "unreachable"), ("nodes.island", 6, "unreachable")]
    assert problems[0].message == "node 'orphan' is unreachable from 'start'"


def test_a_node_reachable_only_by_looping_back_is_reachable():
    assert problems_of("nodes:\n  a: {type: util.echo, next: b}\n  b: {type: util.echo, next: a}\n") == []


def test_duplicate_task_names_across_nesting_and_error_handlers():
    problems = problems_of("""
        tasks:
          - name: fetch
            type: util.echo
          - name: loop
            type: flow.forEach
            items: [1]
            tasks:
              - name: fetch
                type: util.echo
          - name: loop
            type: util.echo
        errors:
          - name: fetch
            type: util.echo
        """)
    assert found(problems) == [
        ("tasks[1].tasks[0]", 8, "duplicate_name"),
        ("tasks[2]", 10, "duplicate_name"),
        ("errors[0]", 13, "duplicate_name"),
    ]
    assert problems[0].message == "duplicate task name 'fetch' (first at tasks[0])"


def test_duplicate_yaml_keys_are_reported_with_the_rest():
    problems = problems_of("nodes:\n  a: {type: util.echo, next: b}\n  b: {type: util.echo}\n  a: {type: util.echo}\n")
    # the second `a` wins (as in any YAML reader), so `b` also lost its only way in
    assert found(problems) == [("nodes.b", 3, "unreachable"), ("nodes.a", 4, "duplicate_key")]


def test_structural_keys_of_control_steps_are_not_schema_checked():
    # the fake flow.sequential schema requires `tasks`, which moved into a child block;
    # the fake flow.if schema forbids extra properties, and `then`/`else` are not in it
    source = """
        tasks:
          - name: group
            type: flow.sequential
            tasks: [{name: a, type: util.echo}]
          - name: check
            type: flow.if
            condition: true
            then: [{name: b, type: util.echo}]
            else: [{name: c, type: util.echo}]
        """
    assert problems_of(source) == []


def test_control_steps_other_inputs_are_still_schema_checked():
    problems = problems_of("tasks:\n  - {name: stop, type: flow.fail, message: [1]}\n")
    assert found(problems) == [("tasks[0].message", 2, "invalid_input")]


def test_many_problems_are_reported_at_once_in_source_order():
    source = """
        name: messy
        timeout: forever
        inputs:
          - id: n
            type: NUMBER
        tasks:
          - name: a
            type: util.nope
          - name: b
            type: util.log
            properties: {message: 1}
          - name: a
            type: util.echo
          - type: util.echo
        triggers:
          - {type: schedule, cron: "99 * * * *", timezone: Nowhere/Land}
        """
    problems = problems_of(source)
    assert found(problems) == [
        ("timeout", 2, "invalid_duration"),
        ("inputs[0].type", 5, "invalid_input_declaration"),
        ("tasks[0].type", 8, "unknown_plugin"),
        ("tasks[1].properties.message", 11, "invalid_input"),
        ("tasks[2]", 12, "duplicate_name"),
        ("tasks[3].name", 14, "missing"),
        ("triggers[0].cron", 16, "invalid_cron"),
        ("triggers[0].timezone", 16, "invalid_timezone"),
    ]
    with pytest.raises(DefinitionError) as caught:
        compile_yaml(source)
    assert caught.value.problems == problems
    assert "and 3 more" in str(caught.value)


def test_problems_serialise_as_path_line_message():
    problems = problems_of("tasks:\n  - name: a\n    type: util.teleport\n")
    assert [problem.as_dict() for problem in problems] == [
        {"path": "tasks[0].type", "line": 3, "message": "unknown plugin type 'util.teleport'"}
    ]
    with pytest.raises(DefinitionError) as caught:
        compile_yaml("tasks:\n  - name: a\n    type: util.teleport\n")
    assert json.loads(json.dumps(caught.value.as_dicts())) == [problem.as_dict() for problem in problems]
    assert Problem("", None, "x").as_dict() == {"path": "", "line": None, "message": "x"}


def test_unknown_secrets_are_reported_where_they_are_used():
    source = """
        variables:
          auth: "Bearer ${API_TOKEN}"
        inputs:
          - {id: key, defaults: "${DEFAULT_KEY}"}
        tasks:
          - name: call
            type: http.request
            properties:
              url: https://example.com
              headers:
                Authorization: "${API_TOKEN}"
                X-Other: "${MISSING} and ${ALSO_MISSING} and ${MISSING}"
        triggers:
          - {type: webhook, inputs: {token: "{{ secret('HOOK_SECRET') }}"}}
        """
    assert problems_of(source) == []  # known_secrets=None: not checked
    problems = problems_of(source, known_secrets={"API_TOKEN", "DEFAULT_KEY"})
    assert [(p.path, p.line, p.message) for p in problems] == [
        ("tasks[0].properties.headers.X-Other", 12, "unknown secret 'MISSING'"),
        ("tasks[0].properties.headers.X-Other", 12, "unknown secret 'ALSO_MISSING'"),
        ("triggers[0].inputs.token", 14, "unknown secret 'HOOK_SECRET'"),
    ]
    assert {p.code for p in problems} == {"unknown_secret"}
    assert found(problems_of(source, known_secrets=set()))[0] == ("variables.auth", 2, "unknown_secret")


def test_compile_definition_uses_the_lookup_it_is_given():
    class Anything(Plugin):
        id = "custom.thing"
        name = "Thing"
        category = "custom"

    seen: list[str] = []

    def lookup(type_id: str) -> type[Plugin] | None:
        seen.append(type_id)
        return Anything if type_id == "custom.thing" else fake_lookup(type_id)

    flow = compile_definition(
        yaml_text("tasks:\n  - {name: a, type: custom.thing}\n  - {name: b, type: util.echo}\n"),
        plugin_lookup=lookup,
        limits=YamlLimits(),
    )
    assert [step.type for step in flow.steps()] == ["custom.thing", "util.echo"]
    assert seen == ["custom.thing", "util.echo"]


def test_validate_accepts_bytes():
    assert validate_definition(b"tasks:\n  - {name: a, type: util.echo}\n", plugin_lookup=fake_lookup) == []


def test_the_type_of_a_condition_is_still_schema_checked():
    problems = problems_of("tasks:\n  - {name: c, type: flow.if, condition: [1], then: [{name: t, type: util.echo}]}\n")
    assert found(problems) == [("tasks[0].condition", 2, "invalid_input")]
