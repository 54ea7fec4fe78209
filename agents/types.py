"""Agent types: Huginn-style names (`Agents::PostAgent`) and plugin ids, each a small handler.

A handler never touches the database itself: it gets the agent's rendered options, the
incoming payload (on receive) and a mutable `memory`, and emits payloads. The runtime
persists what it emitted, the memory and any error, in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from agents.context import AgentContext
from connectors.plugins.jsonquery import QueryError, jmespath_search
from connectors.registry import Plugin, ResultStatus, get_plugin
from executions.engine.templating import secret_refused, secrets_outside
from flows.models import Agent

MAX_MESSAGES_PER_RUN = 1000
MAX_LOGS_PER_RUN = 20


class AgentError(Exception):
    """A run failed for a reason the operator should read (stored in `last_error`)."""


@dataclass
class AgentRun:
    """One run of one agent: what it may read and what it emitted."""

    agent: Agent
    ctx: AgentContext
    memory: dict[str, Any]
    emitted: list[dict[str, Any]] = field(default_factory=list)
    control: list[tuple[str, list[str]]] = field(default_factory=list)  # (action, agent ids) for SchedulerAgent
    logs: list[tuple[str, str]] = field(default_factory=list)  # (level, text), kept even when the run fails
    message_id: str | None = None  # the incoming message's uuid, on receive
    depth: int = 0  # flow starts behind the incoming message; what the run emits carries it on

    def log(self, text: str, level: str = "info") -> None:
        """A line for the agent's log (Huginn's `log`/`error`); the runtime masks and stores it."""
        if len(self.logs) < MAX_LOGS_PER_RUN:
            self.logs.append((level, text))

    def emit(self, payload: Any) -> None:
        if len(self.emitted) >= MAX_MESSAGES_PER_RUN:
            raise AgentError(f"A run may emit at most {MAX_MESSAGES_PER_RUN} messages.")
        self.emitted.append(payload if isinstance(payload, dict) else {"result": payload})


class AgentType:
    """Base of the handlers. `schedulable`: runs on a schedule or "run now"; `receives`: takes messages."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    schedulable: ClassVar[bool] = True
    receives: ClassVar[bool] = True
    #: Options that are outbound URLs: a literal one the network policy refuses is refused when saved.
    url_options: tuple[str, ...] = ()

    def check(self, run: AgentRun, options: dict[str, Any]) -> None:
        """A scheduled or manual run."""

    def receive(self, run: AgentRun, options: dict[str, Any], payload: dict[str, Any]) -> None:
        """One incoming message; `options` were rendered with it as `message`."""

    def option_problems(self, options: dict[str, Any]) -> list[str]:
        """Structural problems of the options (values may still be templates)."""
        return []

    def scope_problems(self, namespace_id: Any, options: dict[str, Any]) -> list[str]:
        """Problems of literal options naming objects that must be in the agent's namespace."""
        return []

    def prepare_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """Fill generated options (a webhook secret) when an agent is saved."""
        return options


_TYPES: dict[str, AgentType] = {}


def register(cls: type[AgentType]) -> type[AgentType]:
    instance = cls()
    for key in (cls.name, *cls.aliases):
        _TYPES[key] = instance
    return cls


def _load() -> None:
    # They import this module to register the Huginn types: loaded on first use, a real cycle.
    from agents import flow_types, http_types, integration_types, logic_types  # noqa: F401


def huginn_types() -> list[str]:
    _load()
    return sorted(name for name, handler in _TYPES.items() if name == handler.name)


def agent_type(type_name: str) -> AgentType:
    """The handler of a type name: a Huginn name, or any non-control plugin id."""
    _load()
    handler = _TYPES.get(type_name)
    if handler is not None:
        return handler
    plugin = get_plugin(type_name)
    if plugin is None or plugin.control:
        raise LookupError(type_name)
    return PluginAgentType(plugin)


# --- helpers shared by the handlers ---------------------------------------------------------


def json_path(data: Any, path: str) -> Any:
    """A value inside JSON data: JMESPath (`data.items[*].title`); a JSONPath-style `$.` is dropped."""
    expression = str(path).strip()
    if expression.startswith("$"):
        expression = expression[1:].lstrip(".")
    if not expression:
        return data
    try:
        return jmespath_search(expression, data)  # bounded: an expression cannot build a billion items
    except QueryError as exc:
        raise AgentError(f"Bad path '{path}': {exc}") from None


def run_plugin(plugin: type[Plugin], inputs: dict[str, Any], ctx: AgentContext) -> Any:
    """Run a catalog plugin for an agent; its outputs, or AgentError. Agents cannot wait."""
    if ctx.used_secrets and not plugin.takes_secrets:
        raise AgentError(secret_refused(plugin.id))
    misplaced = secrets_outside(plugin, inputs, ctx.used_secrets)
    if misplaced:
        raise AgentError(misplaced)
    problems = plugin.input_problems(inputs)
    if problems:
        text = "; ".join(f"{p['path'] or '(options)'}: {p['message']}" for p in problems)
        raise AgentError(f"Options do not fit '{plugin.id}': {text}")
    result = plugin().run(inputs, ctx)
    if result.status == ResultStatus.FAILED:
        raise AgentError(result.error or f"'{plugin.id}' failed")
    if result.status == ResultStatus.WAITING:
        raise AgentError(f"'{plugin.id}' waits for something; agents cannot wait")
    return result.outputs


def truthy(value: Any) -> bool:
    """Huginn's boolify: true, "true", "yes", "1"."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "on")
    return bool(value)


class PluginAgentType(AgentType):
    """Any non-control plugin as an agent: options are its inputs; its outputs are emitted."""

    name = "plugin"

    def __init__(self, plugin: type[Plugin]) -> None:
        self.plugin = plugin
        self.url_options = plugin.url_inputs

    def check(self, run: AgentRun, options: dict[str, Any]) -> None:
        outputs = run_plugin(self.plugin, options, run.ctx)
        if outputs is not None:
            run.emit(outputs)

    def receive(self, run: AgentRun, options: dict[str, Any], payload: dict[str, Any]) -> None:
        self.check(run, options)

    def option_problems(self, options: dict[str, Any]) -> list[str]:
        # Templated values are checked when they are rendered; only refuse unknown keys early.
        properties = self.plugin.input_schema.get("properties")
        if properties and self.plugin.input_schema.get("additionalProperties") is False:
            return [f"unknown option '{key}'" for key in options if key not in properties]
        return []
