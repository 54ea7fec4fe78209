"""The catalog: manifests, input validation, aliases and categories of the built-in plugins."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from connectors.registry import InputError, all_plugins, categories, get_plugin

from .conftest import RunPlugin

BUILT_IN = {
    "REST_CONNECTOR",
    "connector.call",
    "data.csv",
    "data.json",
    "data.json.parse",
    "data.json.stringify",
    "data.set",
    "data.template",
    "data.transform",
    "execution.labels",
    "file.concat",
    "file.delete",
    "file.purge",
    "file.size",
    "file.split",
    "file.write",
    "flow.fail",
    "flow.forEach",
    "flow.if",
    "flow.parallel",
    "flow.pause",
    "flow.sequential",
    "flow.subflow",
    "flow.switch",
    "http.download",
    "http.request",
    "kv.delete",
    "kv.get",
    "kv.set",
    "mail.send",
    "notify.discord",
    "notify.slack",
    "notify.teams",
    "notify.webhook",
    "script.python",
    "script.shell",
    "sql.query",
    "util.echo",
    "util.hash",
    "util.log",
    "util.sleep",
    "webhook",
}
HIDDEN = {"fibo"}  # the benchmark's step: runnable, not in the catalog
MANIFEST_KEYS = {
    "id",
    "name",
    "category",
    "description",
    "inputSchema",
    "outputSchema",
    "documentation",
    "example",
    "aliases",
}


def test_every_built_in_plugin_is_registered_once() -> None:
    ids = [plugin.id for plugin in all_plugins()]
    assert set(ids) == BUILT_IN
    assert len(ids) == len(set(ids))
    assert ids == sorted(ids)
    assert {plugin.id for plugin in all_plugins(hidden=True)} == BUILT_IN | HIDDEN


@pytest.mark.parametrize("plugin", all_plugins(hidden=True), ids=lambda plugin: plugin.id)
def test_manifest_has_its_keys_and_valid_schemas(plugin) -> None:
    manifest = plugin.manifest()
    assert set(manifest) == MANIFEST_KEYS
    assert manifest["id"] == plugin.id
    assert manifest["name"]
    assert manifest["description"]
    assert manifest["aliases"] == list(plugin.aliases)
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
        ("io.kestra.plugin.core.storage.Write", "file.write"),
        ("io.kestra.plugin.core.storage.Delete", "file.delete"),
    ],
)
def test_aliases_resolve_to_their_plugin(alias: str, plugin_id: str) -> None:
    assert get_plugin(alias) is get_plugin(plugin_id)
    assert alias in get_plugin(plugin_id).aliases


def test_unknown_ids_are_not_found() -> None:
    assert get_plugin("http.nothing") is None


def test_categories() -> None:
    assert categories() == sorted({plugin.category for plugin in all_plugins()})
    assert {"connector", "data", "flow", "http", "kv", "util"} <= set(categories())
    assert {plugin.category for plugin in all_plugins() if plugin.id.startswith("flow.")} == {"flow"}
    assert get_plugin("util.hash").category == "util"
    assert get_plugin("data.csv").category == get_plugin("data.json").category == "data"
    assert get_plugin("REST_CONNECTOR").category == "http"


def test_a_hidden_plugin_still_runs_by_its_id(run_plugin: RunPlugin) -> None:
    fibo = get_plugin("fibo")
    assert fibo is not None and not fibo.public
    assert run_plugin("fibo", {"n": 10}).outputs == {"n": 10, "value": 55}
