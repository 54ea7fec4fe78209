"""Tasks and nodes → steps: required keys, control structure, where each problem is."""

import pytest

from tests.flows.definitions.support import compile_yaml, found, problems_of


def test_a_task_needs_a_name_and_a_type_and_must_be_a_mapping():
    problems = problems_of("""
        name: x
        tasks:
          - type: util.echo
          - name: no_type
          - just a string
          - name: [not, text]
            type: util.echo
        """)
    assert found(problems) == [
        ("tasks[0].name", 3, "missing"),
        ("tasks[1].type", 4, "missing"),
        ("tasks[2]", 5, "invalid_type"),
        ("tasks[3].name", 6, "invalid_type"),
    ]
    assert problems[0].message == "'name' is required"


def test_kestra_id_is_accepted_as_the_task_name():
    flow = compile_yaml("tasks:\n  - id: hello\n    type: util.echo\n")
    assert flow.step("hello").name == "hello"
    assert found(problems_of("tasks:\n  - {id: a, name: b, type: util.echo}\n")) == [("tasks[0].id", 2, "conflict")]


def test_plugin_inputs_go_under_properties_except_for_control_constructs():
    problems = problems_of("""
        tasks:
          - name: a
            type: util.log
            message: hi
            properties: {message: hi}
        """)
    assert found(problems) == [("tasks[0].message", 4, "unknown_key")]
    assert "under 'properties'" in problems[0].message


def test_properties_and_params_must_be_mappings():
    assert found(problems_of("tasks:\n  - {name: a, type: util.echo, properties: [1]}\n")) == [
        ("tasks[0].properties", 2, "invalid_type")
    ]
    assert found(problems_of("nodes:\n  a:\n    type: util.echo\n    params: text\n")) == [
        ("nodes.a.params", 4, "invalid_type")
    ]


def test_nodes_accept_only_node_keys():
    problems = problems_of("nodes:\n  a:\n    type: util.echo\n    properties: {x: 1}\n")
    assert found(problems) == [("nodes.a.properties", 4, "unknown_key")]
    assert "under 'params'" in problems[0].message


@pytest.mark.parametrize(
    ("next_value", "words"),
    [("[a, b]", "node id or a mapping"), ("{default: [b]}", "must be a node id")],
)
def test_next_must_be_a_node_id_or_an_outcome_map(next_value: str, words: str):
    problems = problems_of(f"nodes:\n  a:\n    type: util.echo\n    next: {next_value}\n  b: {{type: util.echo}}\n")
    assert next(p.line for p in problems if p.code == "invalid_type") == 4
    assert any(words in p.message for p in problems)


def test_control_structure_may_sit_in_properties_or_on_the_task():
    in_properties = compile_yaml("""
        tasks:
          - name: check
            type: flow.if
            properties:
              condition: "{{ inputs.ok }}"
              then: [{name: yes_, type: util.echo}]
        """)
    on_task = compile_yaml("""
        tasks:
          - name: check
            type: flow.if
            condition: "{{ inputs.ok }}"
            then: [{name: yes_, type: util.echo}]
        """)
    for flow in (in_properties, on_task):
        check = flow.step("check")
        assert check.inputs == {"condition": "{{ inputs.ok }}"}
        assert [step.id for step in check.blocks["then"].steps] == ["check.yes_"]
        assert "else" not in check.blocks


def test_a_key_given_both_on_the_task_and_in_properties_is_a_conflict():
    problems = problems_of("""
        tasks:
          - name: check
            type: flow.if
            condition: a
            properties: {condition: b}
            then: [{name: t, type: util.echo}]
        """)
    assert found(problems) == [("tasks[0].condition", 4, "conflict")]


ONE = "[{name: t, type: util.echo}]"


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        (f"{{name: c, type: flow.if, then: {ONE}}}", [("tasks[0].properties.condition", "missing")]),
        ("{name: c, type: flow.if, condition: x}", [("tasks[0].properties.then", "missing")]),
        ("{name: c, type: flow.if, condition: x, then: []}", [("tasks[0].then", "missing")]),
        ("{name: c, type: flow.if, condition: x, then: {a: 1}}", [("tasks[0].then", "invalid_type")]),
        ("{name: s, type: flow.switch, value: x}", [("tasks[0].properties.cases", "missing")]),
        ("{name: s, type: flow.switch, value: x, cases: [a]}", [("tasks[0].cases", "invalid_type")]),
        (f"{{name: s, type: flow.switch, cases: {{a: {ONE}}}}}", [("tasks[0].properties.value", "missing")]),
        ("{name: p, type: flow.parallel}", [("tasks[0].properties.tasks", "missing")]),
        ("{name: p, type: flow.sequential, tasks: []}", [("tasks[0].tasks", "missing")]),
        (f"{{name: l, type: flow.forEach, tasks: {ONE}}}", [("tasks[0].properties.items", "missing")]),
        (f"{{name: l, type: flow.forEach, items: 'no json', tasks: {ONE}}}", [("tasks[0].items", "invalid_type")]),
        (
            f"{{name: l, type: flow.forEach, items: [1], concurrency: 0, tasks: {ONE}}}",
            [("tasks[0].concurrency", "invalid_value")],
        ),
        (f"{{name: l, type: flow.forEach, items: [1], then: [], tasks: {ONE}}}", [("tasks[0].then", "unknown_key")]),
        (
            f"{{name: p, type: flow.parallel, concurrency: -1, tasks: {ONE}}}",
            [("tasks[0].concurrency", "invalid_value")],
        ),
    ],
)
def test_control_construct_mistakes(task: str, expected: list[tuple[str, str]]):
    problems = problems_of(f"tasks:\n  - {task}\n")
    assert [(p.path, p.code) for p in problems] == expected
    assert all(p.line == 2 for p in problems)


def test_foreach_items_may_be_a_json_list_string_or_a_template():
    for items in ("'[1, 2]'", "'{{ outputs.a.body }}'"):
        flow = compile_yaml(
            f"tasks:\n  - {{name: l, type: flow.forEach, items: {items}, tasks: [{{name: t, type: util.echo}}]}}\n"
        )
        assert flow.step("l").items in ("[1, 2]", "{{ outputs.a.body }}")


def test_switch_accepts_kestra_defaults_spelling():
    flow = compile_yaml("""
        tasks:
          - name: s
            type: flow.switch
            value: x
            cases: {a: [{name: t, type: util.echo}]}
            defaults: [{name: d, type: util.echo}]
        """)
    assert flow.step("s").branch("zzz").steps[0].id == "s.d"


def test_problems_inside_nested_blocks_have_nested_paths():
    problems = problems_of("""
        tasks:
          - name: loop
            type: flow.forEach
            items: [1]
            tasks:
              - name: check
                type: flow.if
                condition: x
                then:
                  - name: deep
                    type: util.log
                    properties: {message: 3}
        """)
    assert found(problems) == [("tasks[0].tasks[0].then[0].properties.message", 12, "invalid_input")]


def test_retry_forms():
    flow = compile_yaml("""
        tasks:
          - {name: a, type: util.echo, retry: 3}
          - {name: b, type: util.echo, retry: {maxAttempts: 4, delay: PT1S, backoff: 2, maxDelay: PT10S}}
          - {name: c, type: util.echo, retry: {maxAttempt: 2, interval: PT5S, type: exponential}}
          - {name: d, type: util.echo, retry: {maxAttempts: 2, backoff: constant}}
        """)
    policies = [flow.step(name).retry for name in "abcd"]
    assert [(p.max_attempts, p.delay, p.backoff, p.max_delay) for p in policies] == [
        (3, 0, 1.0, None),
        (4, 1, 2.0, 10),
        (2, 5, 2.0, None),
        (2, 0, 1.0, None),
    ]
    assert flow.step("a").timeout is None


def test_retry_mistakes():
    problems = problems_of("""
        tasks:
          - {name: a, type: util.echo, retry: {maxAttempts: 0, backoff: 0.5, jitter: 1}}
          - {name: b, type: util.echo, retry: [1]}
        """)
    assert found(problems) == [
        ("tasks[0].retry.jitter", 2, "unknown_key"),
        ("tasks[0].retry.maxAttempts", 2, "invalid_value"),
        ("tasks[0].retry.backoff", 2, "invalid_value"),
        ("tasks[1].retry", 3, "invalid_type"),
    ]


def test_a_graph_node_holds_no_tasks():
    """The graph walks nodes by `next`: tasks inside a node would never run and the run would wait forever."""
    problems = problems_of("""
        metadata: {name: g}
        nodes:
          branch:
            type: flow.if
            params: {condition: "{{ true }}"}
            then: [{name: a, type: util.log, properties: {message: hi}}]
            next: {"true": done}
          loop:
            type: flow.forEach
            params: {items: [1]}
            tasks: [{name: b, type: util.echo}]
          done: {type: util.echo}
          route: {type: flow.switch, params: {}}
        """)
    assert found(problems) == [
        ("nodes.branch.then", 6, "unknown_key"),
        ("nodes.loop", 8, "invalid_value"),
        ("nodes.loop", 8, "unreachable"),
        ("nodes.loop.tasks", 11, "unknown_key"),
        ("nodes.route.params.value", 13, "missing"),  # a branch without blocks still needs its value
        ("nodes.route", 13, "unreachable"),
    ]
