"""kv.get, kv.set and kv.delete through the run context."""

from __future__ import annotations

import pytest

from connectors.registry import InputError, ResultStatus, get_plugin

from .conftest import FakeContext, RunPlugin


def test_set_then_get_then_delete(run_plugin: RunPlugin, ctx: FakeContext) -> None:
    assert run_plugin("kv.set", {"key": "cursor", "value": {"page": 3}, "ttl": 60}).outputs == {"key": "cursor"}
    assert (ctx.kv["cursor"], ctx.ttls["cursor"]) == ({"page": 3}, 60)
    assert run_plugin("kv.get", {"key": "cursor"}).outputs == {"key": "cursor", "value": {"page": 3}}
    assert run_plugin("kv.delete", {"key": "cursor"}).outputs == {"key": "cursor", "deleted": True}
    assert "cursor" not in ctx.kv
    assert run_plugin("kv.delete", {"key": "cursor"}).outputs == {"key": "cursor", "deleted": False}


def test_get_of_a_missing_key_outputs_the_default(run_plugin: RunPlugin) -> None:
    assert run_plugin("kv.get", {"key": "nope"}).outputs == {"key": "nope", "value": None}
    assert run_plugin("kv.get", {"key": "nope", "default": 0}).outputs == {"key": "nope", "value": 0}


def test_set_without_ttl_keeps_the_entry(run_plugin: RunPlugin, ctx: FakeContext) -> None:
    run_plugin("kv.set", {"key": "k", "value": False})
    assert (ctx.kv["k"], ctx.ttls["k"]) == (False, None)
    assert run_plugin("kv.get", {"key": "k", "default": True}).outputs["value"] is False


def test_set_refuses_a_value_over_the_limit(run_plugin: RunPlugin, ctx: FakeContext, settings) -> None:
    settings.MILLRACE_KV_MAX_VALUE_BYTES = 10
    result = run_plugin("kv.set", {"key": "k", "value": "x" * 20})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "KV_TOO_LARGE")
    assert ctx.kv == {}


def test_keys_are_checked() -> None:
    with pytest.raises(InputError) as caught:
        get_plugin("kv.set").check_inputs({"key": "", "ttl": 0})
    assert sorted(problem["path"] for problem in caught.value.problems) == ["", "key", "ttl"]
