"""Inputs a script task refuses before anything runs: each problem is named by its path."""

import pytest

from connectors.registry import InputError, get_plugin

PY = {"script": "print(1)"}
SH = {"commands": ["true"]}


@pytest.mark.parametrize(
    ("plugin_id", "inputs", "path", "words"),
    [
        pytest.param("script.python", {}, "", "'script' is a required property", id="python-no-script"),
        pytest.param("script.python", {"script": ""}, "script", "should be non-empty", id="python-empty-script"),
        pytest.param("script.python", {"script": 5}, "script", "is not of type 'string'", id="python-script-number"),
        pytest.param("script.python", {"script": "x" * 1_000_001}, "script", "is too long", id="python-huge-script"),
        pytest.param("script.shell", {}, "", "is not valid under any of the given schemas", id="shell-nothing"),
        pytest.param(
            "script.shell", {**SH, "script": "true"}, "", "is valid under each of", id="shell-commands-and-script"
        ),
        pytest.param("script.shell", {"commands": "echo"}, "commands", "is not of type 'array'", id="commands-text"),
        pytest.param("script.shell", {"commands": []}, "commands", "should be non-empty", id="commands-empty"),
        pytest.param("script.shell", {"commands": [1]}, "commands.0", "is not of type 'string'", id="command-number"),
        pytest.param("script.shell", {**SH, "failFast": "yes"}, "failFast", "is not of type 'boolean'", id="failfast"),
        pytest.param("script.shell", {**SH, "failFast": 1e400}, "failFast", "is not of type 'boolean'", id="inf"),
        pytest.param("script.python", {**PY, "env": {"A": None}}, "env.A", "is not of type 'string'", id="env-null"),
        pytest.param("script.python", {**PY, "env": {"A": ["x"]}}, "env.A", "is not of type 'string'", id="env-list"),
        pytest.param("script.python", {**PY, "env": {"A": {"b": 1}}}, "env.A", "is not of type", id="env-object"),
        pytest.param("script.python", {**PY, "timeout": 0}, "timeout", "is not valid under any", id="timeout-zero"),
        pytest.param("script.python", {**PY, "timeout": -1}, "timeout", "is not valid under any", id="timeout-minus"),
        pytest.param("script.python", {**PY, "timeout": True}, "timeout", "is not valid under any", id="timeout-bool"),
        pytest.param("script.python", {**PY, "timeout": ""}, "timeout", "is not valid under any", id="timeout-empty"),
        pytest.param("script.python", {**PY, "env": ["A=1"]}, "env", "is not of type 'object'", id="env-list-form"),
        pytest.param("script.python", {**PY, "env": {"1A": "x"}}, "env", "does not match", id="env-bad-name"),
        pytest.param("script.python", {**PY, "env": {"A=B": "x"}}, "env", "does not match", id="env-equals"),
        pytest.param("script.python", {**PY, "env": {"A": "x\x00y"}}, "env.A", "does not match", id="env-nul"),
        pytest.param("script.python", {**PY, "env": {"A": "x" * 131_073}}, "env.A", "is too long", id="env-huge-value"),
        pytest.param(
            "script.python",
            {**PY, "env": {f"V{n}": "x" for n in range(257)}},
            "env",
            "has too many properties",
            id="env-too-many",
        ),
        pytest.param(
            "script.python", {**PY, "inputFiles": {"a": None}}, "inputFiles.a", "is not of type", id="file-null"
        ),
        pytest.param("script.python", {**PY, "inputFiles": ["a"]}, "inputFiles", "is not of type", id="files-list"),
        pytest.param("script.python", {**PY, "outputFiles": "*.csv"}, "outputFiles", "is not of type", id="globs"),
        pytest.param("script.python", {**PY, "outputFiles": [""]}, "outputFiles.0", "non-empty", id="glob-empty"),
        pytest.param(
            "script.python",
            {**PY, "namespaceFiles": {"enabled": "yes"}},
            "namespaceFiles.enabled",
            "is not of type 'boolean'",
            id="ns-enabled",
        ),
        pytest.param(
            "script.python",
            {**PY, "namespaceFiles": {"include": "*.py"}},
            "namespaceFiles.include",
            "is not of type 'array'",
            id="ns-include",
        ),
        pytest.param(
            "script.python",
            {**PY, "namespaceFiles": {"folder": True}},
            "namespaceFiles",
            "Additional properties are not allowed",
            id="ns-unknown",
        ),
        pytest.param(
            "script.python", {**PY, "interpreter": []}, "interpreter", "is not valid under any", id="interp-empty"
        ),
        pytest.param(
            "script.python", {**PY, "interpreter": 3}, "interpreter", "is not valid under any", id="interp-number"
        ),
        pytest.param(
            "script.python", {**PY, "interpreter": ["/bin/sh", 1]}, "interpreter", "is not valid", id="interp-item"
        ),
    ],
)
def test_bad_inputs_are_refused_with_their_path(plugin_id, inputs, path, words):
    plugin = get_plugin(plugin_id)
    with pytest.raises(InputError) as refused:
        plugin.check_inputs(inputs)
    assert any(problem["path"] == path and words in problem["message"] for problem in refused.value.problems), (
        refused.value.problems
    )


@pytest.mark.parametrize("plugin_id", ["script.python", "script.shell"])
def test_good_inputs_pass(plugin_id):
    base = PY if plugin_id == "script.python" else SH
    get_plugin(plugin_id).check_inputs(
        {
            **base,
            "env": {"TOKEN": "x", "_UNDER": "", "COUNT": 3, "RATIO": 0.5, "DEBUG": True, "BIG": 10**40},
            "timeout": "PT5M",
            "inputFiles": {"a/b.txt": "text", "c": "millrace:///production/_files/c"},
            "namespaceFiles": {"enabled": True, "include": ["**.py"], "exclude": ["tests/**"]},
            "outputFiles": ["*.csv", "out/**"],
            "interpreter": ["/bin/sh", "-e"],
        }
    )
