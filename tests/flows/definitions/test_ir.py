"""The IR the engine walks: blocks, control constructs, lookups, successors."""

import pytest

from flows.definitions import ERROR, Block, CompiledFlow, FlowFormat, RetryPolicy, Step
from tests.flows.definitions.support import GRAPH, NESTED, compile_yaml, found, problems_of


@pytest.fixture
def nested() -> CompiledFlow:
    return compile_yaml(NESTED)


def test_control_steps_hold_child_blocks_and_keep_their_data_in_inputs(nested: CompiledFlow):
    each = nested.step("each")
    assert each.control and each.type == "flow.forEach"
    assert (each.items, each.concurrency) == ("{{ outputs.fetch.body }}", 4)
    assert "tasks" not in each.inputs
    assert [block.id for block in each.child_blocks()] == ["each:tasks"]
    check = nested.step("each.check")
    assert check.condition == "{{ item.total > 100 }}"
    assert check.inputs == {"condition": "{{ item.total > 100 }}"}
    assert [step.id for step in check.blocks["then"].steps] == ["each.check.big"]
    assert [step.id for step in check.blocks["else"].steps] == ["each.check.small"]
    assert nested.step("each.check.big").name == "big"


def test_switch_cases_are_keyed_by_text_with_a_default(nested: CompiledFlow):
    route = nested.step("route")
    assert route.value == "{{ inputs.region }}"
    assert list(route.cases) == ["eu", "true"]
    assert route.branch("eu").id == "route:case:eu"
    assert route.branch(True).steps[0].name == "to_true"
    assert route.branch("us").id == "route:default"
    assert nested.block("route:default").steps[0].name == "elsewhere"


def test_if_branch_by_truth(nested: CompiledFlow):
    check = nested.step("each.check")
    assert check.branch(True).id == "each.check:then"
    assert check.branch("true").id == "each.check:then"
    assert check.branch(False).id == "each.check:else"
    assert check.branch("false").id == "each.check:else"


def test_parallel_and_sequential_hold_tasks(nested: CompiledFlow):
    fan = nested.step("fan")
    assert fan.concurrency is None  # all branches at once
    assert [step.id for step in fan.branch(None).steps] == ["fan.left", "fan.right"]
    assert [step.name for step in nested.step("fan.right").blocks["tasks"].steps] == ["right_1", "right_2"]


def test_foreach_concurrency_defaults_to_one():
    flow = compile_yaml("""
        tasks:
          - name: loop
            type: flow.forEach
            properties: {items: [1, 2, 3]}
            tasks: [{name: show, type: util.echo}]
        """)
    assert flow.step("loop").concurrency == 1
    assert flow.step("loop").items == [1, 2, 3]


@pytest.mark.parametrize(("written", "concurrency"), [("", None), ("concurrency: 0", None), ("concurrency: 2", 2)])
def test_parallel_concurrency_none_means_no_limit(written: str, concurrency: int | None):
    flow = compile_yaml(
        f"tasks:\n  - name: p\n    type: flow.parallel\n    {written}\n    tasks: [{{name: a, type: util.echo}}]\n"
    )
    assert flow.step("p").concurrency == concurrency


def test_steps_iterate_depth_first_and_tasks_total_leaves_out_error_handlers(nested: CompiledFlow):
    ids = [step.id for step in nested.steps()]
    assert ids == [
        "fetch",
        "each",
        "each.check",
        "each.check.big",
        "each.check.small",
        "route",
        "route.to_eu",
        "route.to_true",
        "route.elsewhere",
        "fan",
        "fan.left",
        "fan.right",
        "fan.right.right_1",
        "fan.right.right_2",
        "done",
        "alert",
    ]
    assert nested.tasks_total == 15
    assert [step.id for step in nested.steps(include_errors=False)][-1] == "done"
    assert [step.id for step in nested.errors.steps] == ["alert"]


def test_lookups_for_the_engine(nested: CompiledFlow):
    assert nested.entry().id == "fetch"
    assert nested.parent("each.check.big").id == "each.check"
    assert nested.parent("each") is None
    assert nested.block_of("fan.right.right_2").id == "fan.right:tasks"
    assert nested.block("main") is nested.main
    assert nested.block("errors") is nested.errors
    assert nested.get_step("nope") is None
    with pytest.raises(KeyError):
        nested.step("nope")
    with pytest.raises(KeyError):
        nested.block("nope:tasks")


def test_tasks_successor_is_the_next_step_of_the_block(nested: CompiledFlow):
    assert nested.successor("fetch").id == "each"
    assert nested.successor("route", "eu").id == "fan"  # outcomes do not matter in a block
    assert nested.successor("done") is None
    assert nested.successor("fan.right.right_1").id == "fan.right.right_2"
    assert nested.successor("fan.right.right_2") is None  # the parent control step is done
    assert nested.successor("fetch", ERROR) is None  # a failure ends the block (then `errors` run)


@pytest.fixture
def graph() -> CompiledFlow:
    return compile_yaml(GRAPH)


def test_graph_successor_follows_outcomes_defaults_and_error_routes(graph: CompiledFlow):
    assert graph.format == FlowFormat.NODES and graph.is_graph
    assert graph.step("decide").next == {"true": "save", "false": "wait"}  # YAML booleans become text
    assert graph.successor("start").id == "decide"
    assert graph.successor("start", "anything").id == "decide"  # unknown outcome → default
    assert graph.successor("start", ERROR).id == "recover"
    assert graph.successor("decide", True).id == "save"
    assert graph.successor("decide", "false").id == "wait"
    assert graph.successor("decide") is None  # no default route
    assert graph.successor("decide", ERROR) is None  # no error route: the flow fails
    assert graph.successor("recover", "retry_later").id == "wait"
    assert graph.successor("save") is None  # a node without `next` ends the flow


def test_graph_cycles_are_allowed(graph: CompiledFlow):
    assert graph.successor("wait").id == "start"
    assert graph.successor("recover").id == "start"
    assert sorted(step.id for step in graph.predecessors("start")) == ["recover", "wait"]
    assert graph.tasks_total == 5


def test_retry_policy_delays_grow_by_backoff_up_to_the_cap():
    policy = RetryPolicy(max_attempts=5, delay=2, backoff=3, max_delay=30)
    assert [policy.delay_before(attempt) for attempt in (2, 3, 4, 5)] == [2, 6, 18, 30]
    assert policy.allows(5) and not policy.allows(6)
    assert RetryPolicy().allows(1) and not RetryPolicy().allows(2)


def test_hand_built_flows_index_themselves():
    leaf = Step(id="outer.inner", name="inner", type="util.echo")
    outer = Step(id="outer", name="outer", type="flow.sequential", blocks={"tasks": Block("outer:tasks", [leaf])})
    flow = CompiledFlow(format=FlowFormat.TASKS, main=Block("main", [outer]))
    assert flow.parent("outer.inner") is outer
    assert flow.tasks_total == 2
    flow.main.steps.append(Step(id="later", name="later", type="util.echo"))
    flow.reindex()
    assert flow.successor("outer").id == "later"


def test_graph_if_and_switch_nodes_may_only_emit_an_outcome_for_next_to_route():
    flow = compile_yaml("""
        nodes:
          start:
            type: flow.if
            params: {condition: "{{ inputs.go }}"}
            next: {"true": pick, "false": low}
          pick:
            type: flow.switch
            params: {value: "{{ inputs.kind }}"}
            next: {a: high, default: low}
          high: {type: util.echo}
          low: {type: util.echo}
        """)
    assert flow.step("start").blocks == {} and flow.step("pick").cases == {}
    assert flow.step("start").branch(True) is None
    assert flow.successor("start", True).id == "pick"
    assert flow.successor("start", "false").id == "low"
    assert flow.successor("pick", "a").id == "high"
    assert flow.successor("pick", "zzz").id == "low"


def test_a_graph_foreach_is_refused_with_or_without_tasks():
    """Only the tasks format runs nested tasks (tests/flows/definitions/test_steps.py)."""
    problems = problems_of("nodes:\n  start:\n    type: flow.forEach\n    params: {items: [1]}\n")
    assert found(problems) == [("nodes.start", 2, "invalid_value")]
