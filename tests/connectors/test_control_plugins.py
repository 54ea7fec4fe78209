"""Flow-control constructs: manifests the engine interprets, never run as plugins."""

from __future__ import annotations

import pytest

from connectors.registry import InputError, all_plugins, get_plugin

from .conftest import FakeContext

CONTROL_IDS = [
    "execution.labels",
    "flow.fail",
    "flow.forEach",
    "flow.if",
    "flow.parallel",
    "flow.pause",
    "flow.sequential",
    "flow.subflow",
    "flow.switch",
]
TASK = {"name": "say", "type": "util.log", "properties": {"message": "hi"}}

VALID = {
    "flow.if": {"condition": True, "then": [TASK], "else": [TASK]},
    "flow.switch": {"value": "eu", "cases": {"eu": [TASK], "us": [TASK]}, "default": [TASK]},
    "flow.parallel": {"tasks": [TASK, TASK], "concurrency": 2},
    "flow.sequential": {"tasks": [TASK]},
    "flow.forEach": {"items": [1, 2, 3], "concurrency": 2, "tasks": [TASK]},
    "flow.subflow": {"namespace": "production", "flowName": "child", "inputs": {"a": 1}, "wait": False},
    "flow.pause": {"message": "Ship it?", "approvers": ["alice"], "timeout": "PT1H"},
    "flow.fail": {"message": "Stop here"},
    "execution.labels": {"labels": {"customer": "acme", "rows": 12, "checked": True}},
}
INVALID = {
    "flow.if": ({"then": []}, ["", "then"]),  # no condition; an empty branch
    "flow.switch": ({"cases": {"eu": "not tasks"}}, ["", "cases.eu"]),
    "flow.parallel": ({"tasks": [{"name": "x"}], "concurrency": -1}, ["concurrency", "tasks.0"]),
    "flow.sequential": ({}, [""]),
    "flow.forEach": ({"items": 3, "tasks": [TASK], "concurrency": 0}, ["concurrency", "items"]),
    "flow.subflow": ({"namespace": "production"}, [""]),  # neither flowId nor a flow name
    "flow.pause": ({"approvers": "alice"}, ["approvers"]),
    "flow.fail": ({"message": 42}, ["message"]),
    "execution.labels": ({"labels": {"k": "v" * 101}}, ["labels.k"]),
}


def test_the_control_constructs_are_exactly_these() -> None:
    assert sorted(plugin.id for plugin in all_plugins() if plugin.control) == CONTROL_IDS


@pytest.mark.parametrize("plugin_id", CONTROL_IDS)
def test_control_construct_manifest_and_inputs(plugin_id: str) -> None:
    plugin = get_plugin(plugin_id)
    assert plugin.control is True
    assert plugin.category == ("execution" if plugin_id == "execution.labels" else "flow")
    assert plugin.input_problems(VALID[plugin_id]) == []
    inputs, paths = INVALID[plugin_id]
    with pytest.raises(InputError) as caught:
        plugin.check_inputs(inputs)
    assert sorted({problem["path"] for problem in caught.value.problems}) == paths


@pytest.mark.parametrize("plugin_id", CONTROL_IDS)
def test_control_constructs_do_not_run_as_plugins(plugin_id: str, ctx: FakeContext) -> None:
    with pytest.raises(NotImplementedError, match="interpreted by the engine"):
        get_plugin(plugin_id)().run(VALID[plugin_id], ctx)


def test_subflow_accepts_a_flow_id_or_name() -> None:
    subflow = get_plugin("flow.subflow")
    assert subflow.input_problems({"flowId": "0b7e2c1e-0000-4000-8000-000000000000"}) == []
    assert subflow.input_problems({"flowName": "child"}) == []


def test_a_graph_node_if_or_switch_may_route_without_blocks() -> None:
    assert get_plugin("flow.if").input_problems({"condition": "{{ inputs.go }}"}) == []
    assert get_plugin("flow.switch").input_problems({"value": "eu"}) == []


def test_labels_are_a_map_or_a_list_of_key_value_pairs() -> None:
    labels = get_plugin("execution.labels")
    assert labels.input_problems({"labels": [{"key": "a", "value": "b"}]}) == []
    assert labels.input_problems({"labels": {"a": "{{ inputs.x }}"}}) == []
    for bad in ("a:b", [{"key": "a"}], {"": "b"}, {"a": {"nested": 1}}, {f"k{i}": "v" for i in range(51)}, {}):
        assert labels.input_problems({"labels": bad}), bad
