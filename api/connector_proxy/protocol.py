"""The connector proxy's wire format (SpiffWorkflow's): the envelope, a command, its result and
caller, the parameters that are SpiffWorkflow's own, and refused parameters.

One `envelope()` renders every answer: `POST /v1/do/...`, errors, the callback acknowledgement
and the body PUT to a `spiff__callback_url` when a `millrace/RunFlow` execution ends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from core.errors import BadRequest

COMMAND_RESPONSE_VERSION = 2
#: Parameters a SpiffWorkflow backend adds to every call; no command sees them.
SPIFF_PREFIX = "spiff__"
#: Where a long-running command's result is PUT when it ends.
CALLBACK_PARAMETER = "spiff__callback_url"
#: Statuses whose response cannot carry the envelope; the outer status is then 200.
_BODILESS = frozenset({204, 205, 304})


@dataclass
class CommandResult:
    """What a command produced: the envelope's body, status, error and log lines."""

    body: Any
    http_status: int = 200
    error: dict[str, str] | None = None
    logs: list[str] = field(default_factory=list)

    @property
    def outer_status(self) -> int:
        return 200 if self.http_status in _BODILESS or self.http_status < 200 else self.http_status

    def as_envelope(self) -> dict[str, Any]:
        return envelope(self.body, http_status=self.http_status, error=self.error, logs=self.logs)


@dataclass
class Caller:
    """Who called: a platform account, or None for a backend that proved only the proxy API key."""

    account: Any = None


@dataclass(frozen=True)
class Parameter:
    id: str
    type: str  # str | int | bool | any, as SpiffWorkflow's editor knows them
    required: bool = False

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "required": self.required}


@dataclass(frozen=True)
class Command:
    id: str
    parameters: tuple[Parameter, ...]
    execute: Callable[[dict[str, Any], Caller, str | None], CommandResult]

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "parameters": [p.describe() for p in self.parameters]}


def envelope(
    body: Any, *, http_status: int, error: dict[str, str] | None = None, logs: list[str] | None = None
) -> dict[str, Any]:
    return {
        "command_response": {"body": body, "mimetype": "application/json", "http_status": http_status},
        "command_response_version": COMMAND_RESPONSE_VERSION,
        "error": error,
        "spiff__logs": logs or [],
    }


def invalid(problems: list[str]) -> NoReturn:
    """Refuse a command's parameters, naming every problem (400 `invalid_parameters`)."""
    raise BadRequest(f"Invalid parameters: {'; '.join(problems)}", code="invalid_parameters", details=problems)
