"""Fixtures for plugin tests: an in-memory run context and a runner that checks schemas both ways."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from connectors.files import FileAccess
from connectors.registry import PluginContext, Result, ResultStatus, get_plugin

_MISSING = object()


@dataclass
class FakeContext(FileAccess):
    """PluginContext with an in-memory KV and a log list the tests read; files go to the test
    session's storage under a fresh execution of `namespace`."""

    namespace: str = "production"
    execution_id: str | None = "exec-1"
    task_name: str = "step"
    callback_url: str | None = None
    state: dict[str, Any] = field(default_factory=dict)
    execution_inputs: dict[str, Any] = field(default_factory=dict)
    logs: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    kv: dict[str, Any] = field(default_factory=dict)
    ttls: dict[str, int | None] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    cancelled: bool = False
    deadline: float | None = None
    write_prefix: str | None = field(
        default_factory=lambda: f"production/executions/{uuid.uuid4()}/tasks/{uuid.uuid4()}"
    )
    delete_prefix: str | None = None  # the execution's files: those under `write_prefix`'s execution

    def __post_init__(self) -> None:
        if self.delete_prefix is None and self.write_prefix:
            self.delete_prefix = self.write_prefix.split("/tasks/", 1)[0]

    def log(self, level: str, message: str, data: dict[str, Any] | None = None) -> None:
        self.logs.append((level, message, data or {}))

    def kv_get(self, key: str) -> Any:
        return self.kv.get(key)

    def kv_set(self, key: str, value: Any, ttl: int | None = None) -> None:
        self.kv[key] = value
        self.ttls[key] = ttl

    def kv_delete(self, key: str) -> bool:
        self.ttls.pop(key, None)
        return self.kv.pop(key, _MISSING) is not _MISSING

    def secret(self, name: str) -> str:
        return self.secrets[name]

    def is_cancelled(self) -> bool:
        return self.cancelled

    def logged_text(self) -> str:
        return repr(self.logs)


def _as_context(ctx: FakeContext) -> PluginContext:
    return ctx  # type-checks that FakeContext satisfies the Protocol


@pytest.fixture
def ctx() -> FakeContext:
    return FakeContext()


RunPlugin = Callable[..., Result]


@pytest.fixture
def run_plugin(ctx: FakeContext) -> RunPlugin:
    """Look a plugin up, validate the inputs as the engine does, run it, and check SUCCESS outputs."""

    def run(plugin_id: str, inputs: dict[str, Any], context: FakeContext | None = None) -> Result:
        plugin = get_plugin(plugin_id)
        assert plugin is not None, plugin_id
        plugin.check_inputs(inputs)
        result = plugin().run(inputs, _as_context(context or ctx))
        if result.status == ResultStatus.SUCCESS:
            Draft202012Validator(plugin.output_schema).validate(result.outputs)
        return result

    return run


@pytest.fixture
def allow_loopback(settings: Any) -> None:
    """The test HTTP server listens on 127.0.0.1, which the network policy refuses by default."""
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
