"""Rendering of task inputs at run time: Jinja2 in a sandbox, `${NAME}` lookups, native values.

A template is untrusted code (any flow editor writes one) running inside a worker. It runs
in Jinja2's `ImmutableSandboxedEnvironment` (no private attributes, no mutation of lists or
dicts, `str.format` refused) with only `range`, `secret()` and `kv()` as globals, and within
limits: computed values and output text are capped at `MAX_VALUE_SIZE` (checked before
`*`, `**`, `+`, `~`, `%`, join/replace/padding build them), loops at `MAX_LOOP_ITERATIONS`,
time at `MAX_RENDER_SECONDS` (checked per loop iteration). Constructs that can multiply
work unseen (macros, call/filter/set/block blocks, recursive loops, include) are refused.

- A string that is exactly one `{{ expr }}` (surrounding whitespace allowed) renders to
  the expression's native value (number, bool, None, list, dict); other strings render
  as text, in which None, booleans, lists and dicts print as JSON.
- `${NAME}` in the text of a template is the secret NAME, looked up and inserted as is:
  never evaluated, never rendered again. `$${NAME}` is a literal `${NAME}`. Inside
  `{{ }}` and `{% %}` write `secret('NAME')`; a `${NAME}` in a string there is refused.
- A secret is write-only (`taint`): a template uses it whole — prints it, joins it with `~`,
  passes it whole through `b64encode`, `sha256`, `urlencode`, `tojson`, `upper`, `lower`,
  `trim` — and every operation that would take it apart (iterating, indexing, slicing,
  splitting, encoding, comparing, a dict key, any other filter or method) fails the render.
- Every secret value a render uses is recorded in `TemplateRenderer.used_secrets`, so the
  caller can mask stored inputs, logs, events and errors (`TemplateRenderer.masker()`).
  Values derived from a secret are recorded too, as the sandbox makes them (a filter or str
  method applied to it), so a plugin that echoes `secret('x')|b64encode` into its outputs is
  masked as well.
"""

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any, Protocol

from jinja2 import TemplateSyntaxError, Undefined, UndefinedError
from jinja2.sandbox import SecurityError

from executions.engine.templating.sandbox import (
    _ACTIVE,
    _MISSING,
    MAX_LOOP_ITERATIONS,
    MAX_RENDER_SECONDS,
    MAX_VALUE_SIZE,
    _compile,
    _refuse,
)
from executions.engine.templating.taint import SecretStr
from vault.masking import MASK, MIN_SECRET_LENGTH, Masker

__all__ = [
    "MAX_VALUE_SIZE",
    "RenderContext",
    "Resolver",
    "SecretInputs",
    "TemplateRenderError",
    "TemplateRenderer",
    "render_value",
    "secret_refused",
    "secrets_outside",
]


def secrets_outside(plugin: type, inputs: dict[str, Any], used: set[str]) -> str | None:
    """Why a plugin that takes secrets in named inputs only (`secret_inputs`) gets none here,
    or None: the inputs where a used secret appears, outside those it may reach."""
    allowed = getattr(plugin, "secret_inputs", None)
    if allowed is None or not used:
        return None
    masker = Masker(used)
    misplaced = sorted(key for key, value in inputs.items() if key not in allowed and masker.mask(value) != value)
    if not misplaced:
        return None
    return (
        f"'{plugin.id}' takes secrets only in {', '.join(allowed)}; {', '.join(misplaced)} would hand "
        "them over in clear (pass a secret through env and read it from the environment)"
    )


def secret_refused(plugin_id: str) -> str:
    """Why a plugin that reworks or keeps its inputs (`takes_secrets = False`) gets no secret."""
    return (
        f"'{plugin_id}' cannot take a secret: its outputs or stored values would hold the secret "
        "in pieces that masking cannot find (secrets can be used whole only, in the inputs of steps "
        "that send them)"
    )


class TemplateRenderError(Exception):
    """A task input could not be rendered; `field_path` names it (e.g. `properties.url`)."""

    def __init__(self, field_path: str, message: str) -> None:
        self.field_path = field_path
        self.message = message
        super().__init__(f"{field_path}: {message}" if field_path else message)


class Resolver(Protocol):
    """Where `secret()`, `${NAME}` and `kv()` look values up; both raise LookupError when missing."""

    def secret(self, name: str) -> str: ...

    def kv(self, key: str) -> Any: ...


@dataclass(frozen=True)
class RenderContext:
    """The variables a template sees. Values must be JSON-like (ISO strings for times)."""

    inputs: Mapping[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, Any] = field(default_factory=dict)  # outputs of earlier steps by step name
    vars: Mapping[str, Any] = field(default_factory=dict)
    execution: Mapping[str, Any] = field(default_factory=dict)  # id, namespace, flow, startedAt, ...
    trigger: Mapping[str, Any] = field(default_factory=dict)
    item: Any = None  # forEach
    index: int | None = None  # forEach
    message: Any = None  # agents
    task: Mapping[str, Any] = field(default_factory=dict)  # name, attempt of the running step

    def variables(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _to_json_value(value: Any) -> Any:
    """A native result as plain JSON data; undefined or unsafe values raise their error here."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"the expression gives {value}, which JSON cannot hold")
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, list | tuple | range):
        return [_to_json_value(item) for item in value]
    if isinstance(value, dict):
        return {_to_json_value(key): _to_json_value(item) for key, item in value.items()}
    raise TypeError(f"the expression gives a {type(value).__name__}, which is not a JSON value")


def _describe(exc: Exception) -> str:
    if isinstance(exc, TemplateSyntaxError):
        return f"template syntax error on line {exc.lineno}: {exc.message}"
    if isinstance(exc, SecurityError):
        return f"refused by the template sandbox: {exc}"
    if isinstance(exc, UndefinedError):
        return f"undefined value: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


class TemplateRenderer:
    """Renders the inputs of one task run and records the secret values it used."""

    def __init__(
        self,
        context: RenderContext | Mapping[str, Any] | Callable[[], RenderContext],
        resolver: Resolver | None = None,
        *,
        secrets: bool = True,
    ) -> None:
        self._context = context
        self._resolver = resolver
        self._secrets_allowed = secrets  # False where the value chooses a path or is kept in clear
        self.used_secrets: set[str] = set()
        self.secret_fields: set[str] = set()  # fields whose value a secret went into
        self._field = ""
        self._read_secret = False
        self._iterations = 0
        self._deadline = 0.0

    @cached_property
    def _variables(self) -> dict[str, Any]:
        """What templates see, made when a string first needs it: given as a function, the
        context (every earlier step's outputs, among others) is not made for inputs that hold
        no template."""
        context = self._context() if callable(self._context) else self._context
        return context.variables() if isinstance(context, RenderContext) else dict(context)

    def masker(self) -> Masker:
        """A Masker for every secret value used so far."""
        return Masker(self.used_secrets)

    def render(self, value: Any, field_path: str = "") -> Any:
        """Render every string in a JSON-like value; dict keys are left as they are."""
        if isinstance(value, str):
            return self._render_string(value, field_path)
        if isinstance(value, dict):
            return {
                key: self.render(item, f"{field_path}.{key}" if field_path else str(key)) for key, item in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.render(item, f"{field_path}[{index}]") for index, item in enumerate(value)]
        return value

    def _render_string(self, source: str, field_path: str) -> Any:
        if "{" not in source and "$" not in source:
            return source
        token = _ACTIVE.set(self)
        self._field = field_path
        self._iterations, self._deadline = 0, time.monotonic() + MAX_RENDER_SECONDS
        self._read_secret = False
        try:
            native, run = _compile(source)
            result = run(self._variables)
            # Every value derived from a secret was recorded as the sandbox made it (taint),
            # so the plain strings of the result are not recorded: they are no secrets.
            return _to_json_value(result) if native else result
        except Exception as exc:
            # `from None`: the original exception may quote a secret value.
            raise TemplateRenderError(field_path, self.masker().mask_text(_describe(exc))) from None
        finally:
            _ACTIVE.reset(token)

    def _count_iteration(self) -> None:
        self._iterations += 1
        if self._iterations > MAX_LOOP_ITERATIONS:
            _refuse(f"loops ran more than {MAX_LOOP_ITERATIONS} iterations")
        if time.monotonic() > self._deadline:
            _refuse(f"rendering took longer than {MAX_RENDER_SECONDS:g} seconds")

    def _lookup(self, kind: str, name: Any, default: Any = _MISSING) -> Any:
        """`secret(name)` (recorded for masking) or `kv(name, default)` through the resolver."""
        name = str(name)
        if kind == "secret" and not self._secrets_allowed:
            _refuse(f"a secret cannot be used here (secret {name!r}): this value chooses a branch or a loop")
        try:
            if self._resolver is None:
                raise LookupError(name)
            value = self._resolver.secret(name) if kind == "secret" else self._resolver.kv(name)
        except LookupError:
            if default is not _MISSING:
                return default
            raise UndefinedError(f"{'secret' if kind == 'secret' else 'kv key'} {name!r} is not defined") from None
        if kind == "secret":
            return self.use_secret(value, name)
        return value

    def use_secret(self, value: Any, name: str) -> SecretStr:
        """Hand out a secret this render read (a vault secret, a SECRET input): recorded for
        masking, its field redacted whole, and tainted so it can be used whole only."""
        if not self._secrets_allowed:
            _refuse(f"a secret cannot be used here (secret {name!r}): this value chooses a branch or a loop")
        value = str(value)
        self.used_secrets.add(value)
        self.secret_fields.add(self._field)
        self._read_secret = True
        return SecretStr(value)

    def _taint(self, value: Any) -> None:
        """Record the strings of a value derived from a secret, for masking; a string that
        holds a recorded value as it is needs nothing more (masking finds that value)."""
        if isinstance(value, str):
            value = str(value)  # a plain copy of a SecretStr, which refuses `in`
            if len(value) >= MIN_SECRET_LENGTH and not any(known in value for known in self.used_secrets):
                self.used_secrets.add(value)
        elif isinstance(value, dict):
            for item in (*value.keys(), *value.values()):
                self._taint(item)
        elif isinstance(value, list | tuple):
            for item in value:
                self._taint(item)

    def redact(self, value: Any, field_path: str = "") -> Any:
        """`value` as it may be stored: secret values masked, and every field a secret went
        into replaced whole — a secret transformed in a template (`b64encode`, slicing,
        concatenation) no longer matches its plain value, so masking alone would miss it."""
        if field_path in self.secret_fields:
            return MASK
        if isinstance(value, dict):
            return {
                key: self.redact(item, f"{field_path}.{key}" if field_path else str(key)) for key, item in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.redact(item, f"{field_path}[{index}]") for index, item in enumerate(value)]
        return self.masker().mask(value)


class SecretInputs(dict):
    """The `inputs` a template sees when the execution has SECRET inputs.

    The mapping itself holds them masked, as stored, so iterating or printing `inputs` shows
    the mask; reading one by name (`inputs.token`, `inputs['token']`, `inputs.get('token')`)
    gives the value as a secret of the render (`TemplateRenderer.use_secret`).
    """

    def __init__(self, inputs: Mapping[str, Any], secrets: Mapping[str, str]) -> None:
        super().__init__(inputs)
        self._secrets = dict(secrets)

    def __getitem__(self, key: Any) -> Any:
        if key in self._secrets:
            renderer = _ACTIVE.get()
            if renderer is None:  # read outside a render: the stored form
                return MASK
            return renderer.use_secret(self._secrets[key], f"inputs.{key}")
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key] if key in self else default  # noqa: SIM401 - dict.get would skip __getitem__


def render_value(value: Any, context: RenderContext | Mapping[str, Any], resolver: Resolver | None = None) -> Any:
    """Render `value` once. Use a TemplateRenderer to keep the secret values it used, for masking."""
    return TemplateRenderer(context, resolver).render(value)
