"""The plugin catalog: the Plugin base class, results, the run context and the registry.

A plugin knows nothing of Django models. It receives rendered, schema-checked inputs
and a context (logging, KV, secrets, cancellation, callback URL) and returns a Result.
The same catalog serves flow tasks, FlowRunner nodes, workflowsvc task types, agents
and connector-proxy commands.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import IO, Any, ClassVar, Protocol

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError


class ResultStatus(StrEnum):
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    WAITING = "WAITING"


class WaitKind(StrEnum):
    TIMER = "timer"  # wake at `until` (util.sleep, retry back-off)
    CALLBACK = "callback"  # an outside system PUTs a result to the callback URL
    APPROVAL = "approval"  # a person approves or rejects


@dataclass
class Wait:
    kind: WaitKind
    until: datetime | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Result:
    """What a plugin run produced. `outcome` picks a branch (`true`/`false`, a case, ...)."""

    status: ResultStatus
    outputs: Any = None
    outcome: str | None = None
    error: str | None = None
    error_code: str | None = None
    wait: Wait | None = None

    @classmethod
    def success(cls, outputs: Any = None, *, outcome: str | None = None) -> Result:
        return cls(ResultStatus.SUCCESS, outputs=outputs, outcome=outcome)

    @classmethod
    def failed(cls, error: str, *, code: str | None = None, outputs: Any = None) -> Result:
        return cls(ResultStatus.FAILED, outputs=outputs, error=error, error_code=code)

    @classmethod
    def waiting(cls, wait: Wait, *, outputs: Any = None) -> Result:
        return cls(ResultStatus.WAITING, outputs=outputs, wait=wait)


class PluginContext(Protocol):
    """What the engine (or the connector proxy, or the agent runtime) gives a running plugin."""

    namespace: str
    execution_id: str | None
    task_name: str
    callback_url: str | None
    state: dict[str, Any]  # kept across a WAITING step's wake-ups
    execution_inputs: dict[str, Any]  # the run's inputs (workflowsvc `_inputParams`), read-only

    def log(self, level: str, message: str, data: dict[str, Any] | None = None) -> None: ...

    def kv_get(self, key: str) -> Any: ...

    def kv_set(self, key: str, value: Any, ttl: int | None = None) -> None: ...

    def kv_delete(self, key: str) -> bool: ...

    def secret(self, name: str) -> str: ...

    def is_cancelled(self) -> bool: ...

    #: When the step must have ended (a `time.monotonic()` value, from its timeout), or None.
    deadline: float | None

    def file_write(self, name: str, content: bytes | str | IO | Iterator[bytes]) -> str:
        """Store a file of this step; returns its `millrace:///` URI (see `connectors.files`)."""
        ...

    def file_open(self, uri: str) -> IO[bytes]:
        """A file of this namespace by URI; FileNotFoundError when missing or another namespace's."""
        ...

    def file_size(self, uri: str) -> int:
        """The size of a file of this namespace; FileNotFoundError as `file_open`."""
        ...

    def file_delete(self, uri: str) -> bool:
        """Delete a file of this execution (False when missing); FileNotFoundError for any other."""
        ...

    def file_purge(self) -> list[str]:
        """Delete every file of this execution; returns their URIs."""
        ...

    def namespace_files(self, include: list[str] | None = None) -> list[str]: ...

    def namespace_file_open(self, path: str) -> IO[bytes]: ...


class StepFailure(Exception):
    """A failure a plugin words for the user; `code` is the failed step's error code."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class InputError(ValueError):
    """Inputs that do not match a plugin's input schema; `problems` lists each one."""

    def __init__(self, plugin_id: str, problems: list[dict[str, str]]) -> None:
        self.plugin_id = plugin_id
        self.problems = problems
        super().__init__("; ".join(f"{p['path'] or '(inputs)'}: {p['message']}" for p in problems))


class Plugin:
    """Base of every plugin. Subclasses set the class attributes and implement `run`."""

    id: ClassVar[str]
    name: ClassVar[str]
    category: ClassVar[str]
    description: ClassVar[str] = ""
    input_schema: ClassVar[dict[str, Any]] = {"type": "object"}
    output_schema: ClassVar[dict[str, Any]] = {}
    #: What the plugin does and how, in Markdown, for the catalog and the console's reference.
    documentation: ClassVar[str] = ""
    #: A task using it, in the workflowdev `tasks` format (YAML), that can be pasted into a flow.
    example: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    control: ClassVar[bool] = False  # flow-control constructs the engine interprets itself
    #: False keeps a plugin out of the catalog (the API's plugin list, the console's reference)
    #: while flows may still run it: the benchmark's `fibo` is no task for users to pick.
    public: ClassVar[bool] = True
    #: An input that, when a graph (nodes-format) node leaves it out, the engine fills with the
    #: previous node's outputs (FlowRunner's `webhook` node sends them as its body).
    previous_outputs_input: ClassVar[str | None] = None
    #: False for plugins that rework their inputs into their outputs or keep them (templates,
    #: JMESPath, JSON parsing, KV writes): a secret there would come out in pieces masking
    #: cannot find, so a step that passes them one fails.
    takes_secrets: ClassVar[bool] = True
    #: When set, the only inputs a secret may reach (a script's `env`): elsewhere it would be
    #: handed over in clear, as code or a file the plugin cannot keep it out of.
    secret_inputs: ClassVar[tuple[str, ...] | None] = None
    #: Inputs that are outbound URLs: a literal one the network policy refuses is refused when saved.
    url_inputs: ClassVar[tuple[str, ...]] = ()

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        raise NotImplementedError

    def resume(self, inputs: dict[str, Any], ctx: PluginContext, payload: Any) -> Result:
        """Called when a WAITING step wakes (timer due, callback received). Default: done."""
        return Result.success(payload)

    @classmethod
    def manifest(cls) -> dict[str, Any]:
        return {
            "id": cls.id,
            "name": cls.name,
            "category": cls.category,
            "description": cls.description,
            "inputSchema": cls.input_schema,
            "outputSchema": cls.output_schema,
            "documentation": cls.documentation,
            "example": cls.example,
            "aliases": list(cls.aliases),
        }

    @classmethod
    def input_problems(cls, inputs: Any) -> list[dict[str, str]]:
        errors: Iterable[SchemaError] = sorted(_validator(cls).iter_errors(inputs), key=lambda e: list(e.path))
        return [{"path": ".".join(str(p) for p in error.path), "message": error.message} for error in errors]

    @classmethod
    def check_inputs(cls, inputs: Any) -> None:
        problems = cls.input_problems(inputs)
        if problems:
            raise InputError(cls.id, problems)


@functools.cache
def _validator(plugin: type[Plugin]) -> Draft202012Validator:
    """A plugin's input validator, built once: building one costs more than a validation."""
    return Draft202012Validator(plugin.input_schema)


_REGISTRY: dict[str, type[Plugin]] = {}


def register(plugin: type[Plugin]) -> type[Plugin]:
    """Class decorator adding a plugin (and its aliases) to the catalog."""
    for key in (plugin.id, *plugin.aliases):
        if key in _REGISTRY and _REGISTRY[key] is not plugin:
            raise ValueError(f"Plugin id '{key}' is registered twice.")
        _REGISTRY[key] = plugin
    return plugin


def _load() -> None:
    from connectors import plugins  # noqa: F401  (registers the built-in plugins)


def get_plugin(plugin_id: str) -> type[Plugin] | None:
    _load()
    return _REGISTRY.get(plugin_id)


def all_plugins(*, hidden: bool = False) -> list[type[Plugin]]:
    """Each public plugin once (aliases folded), ordered by id; `hidden` adds the non-public ones."""
    _load()
    plugins = {plugin for plugin in _REGISTRY.values() if hidden or plugin.public}
    return sorted(plugins, key=lambda plugin: plugin.id)


def categories() -> list[str]:
    """The categories of the public plugins."""
    return sorted({plugin.category for plugin in all_plugins()})
