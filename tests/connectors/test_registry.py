"""The catalog: manifests, input validation, aliases and categories of the built-in plugins."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from connectors.registry import InputError, all_plugins, categories, get_plugin

BUILT_IN = {
    "REST_CONNECTOR",
    "connector.call",
    "data.json.parse",
    "data.json.stringify",
    "data.set",
    "data.template",
    "data.transform",
    "fibo",
    "flow.fail",
    "flow.forEach",
    "flow.if",
    "flow.parallel",
    "flow.pause",
    "flow.sequential",
    "flow.subflow",
    "flow.switch",
    "http.request",
    "kv.delete",
    "kv.get",
    "kv.set",
    "util.echo",
    "util.log",
    "util.sleep",
    "webhook",
}


def test_every_built_in_plugin_is_registered_once() -> None:
    ids = [plugin.id for plugin in all_plugins()]
    assert set(ids) == BUILT_IN
    assert len(ids) == len(set(ids))
    assert ids == sorted(ids)


@pytest.mark.parametrize("plugin", all_plugins(), ids=lambda plugin: plugin.id)
def test_manifest_has_the_six_keys_and_valid_schemas(plugin) -> None:
    manifest = plugin.manifest()
    assert set(manifest) == {"id", "name", "category", "description", "inputSchema", "outputSchema"}
    assert manifest["id"] == plugin.id
    assert manifest["name"]
    assert manifest["description"]
    assert manifest["inputSchema"]["type"] == "object"
    Draft202012Validator.check_schema(manifest["inputSchema"])
    Draft202012Validator.check_schema(manifest["outputSchema"])


def test_input_validation_lists_every_problem() -> None:
    plugin = get_plugin("http.request")
    with pytest.raises(InputError) as caught:
        plugin.check_inputs({"method": "FETCH", "timeout": -1, "headers": {"X-A": [1]}})
    paths = sorted(problem["path"] for problem in caught.value.problems)
    assert paths == ["", "headers.X-A", "method", "timeout"]
    assert "'url' is a required property" in str(caught.value)
    assert caught.value.plugin_id == "http.request"


@pytest.mark.parametrize(
    ("alias", "plugin_id"),
    [
        ("io.kestra.plugin.core.log.Log", "util.log"),
        ("io.kestra.plugin.core.flow.Sleep", "util.sleep"),
        ("io.kestra.plugin.core.flow.If", "flow.if"),
        ("io.kestra.plugin.core.flow.Sequential", "flow.sequential"),
    ],
)
def test_aliases_resolve_to_their_plugin(alias: str, plugin_id: str) -> None:
    assert get_plugin(alias) is get_plugin(plugin_id)
    assert alias in get_plugin(plugin_id).aliases


def test_unknown_ids_are_not_found() -> None:
    assert get_plugin("http.nothing") is None


def test_categories() -> None:
    assert categories() == ["connector", "data", "flow", "http", "kv", "util"]
    assert {plugin.category for plugin in all_plugins() if plugin.id.startswith("flow.")} == {"flow"}
    assert get_plugin("fibo").category == "util"
    assert get_plugin("REST_CONNECTOR").category == "http"
