"""The connector proxy's commands: the table `GET /v1/commands` lists and what `POST /v1/do/...` runs.

SpiffWorkflow backends call commands by id (`http/GetRequest`) with flat parameters and read
the answer from an envelope. The table is built from the plugin manifests, so the proxy and
flow tasks share one implementation (the network policy, timeouts and size caps included).
A command returns a `CommandResult`; the dialect only renders it. Long-running commands
(`millrace/RunFlow` with `spiff__callback_url`) answer 202; the engine's callback outbox
(`executions.engine.callbacks`) PUTs the envelope when the execution ends, through
`put_callback`, retrying with back-off.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from connectors import http
from connectors.plugins.http import HttpRequest, send
from connectors.plugins.http import _loggable as loggable_url
from core import jsonlimits
from core.errors import BadRequest, Forbidden, NotFound
from vault.masking import Masker

logger = logging.getLogger("millrace.connectors")

SPIFF_PREFIX = "spiff__"
CALLBACK_PARAMETER = "spiff__callback_url"
CALLBACK_ATTEMPTS = 8
CALLBACK_FIRST_DELAY_SECONDS = 5.0
CALLBACK_MAX_DELAY_SECONDS = 600.0
#: Refusals of the caller's own making are answered 400; upstream failures 500, as the seed shows.
_CLIENT_ERRORS = frozenset({"NETWORK_POLICY_ERROR", "INVALID_URL"})
#: Statuses whose response cannot carry the envelope; the outer status is then 200.
_BODILESS = frozenset({204, 205, 304})
_FLOW_ERROR_CODES = {"FAILED": "FLOW_FAILED", "CANCELLED": "FLOW_CANCELLED", "TIMED_OUT": "FLOW_TIMED_OUT"}


@dataclass(frozen=True)
class Parameter:
    id: str
    type: str  # str | int | bool | any, as SpiffWorkflow's editor knows them
    required: bool = False

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "required": self.required}


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


@dataclass
class Caller:
    """Who called: a platform account, or None for a backend that proved only the proxy API key."""

    account: Any = None


@dataclass(frozen=True)
class Command:
    id: str
    parameters: tuple[Parameter, ...]
    execute: Callable[[dict[str, Any], Caller, str | None], CommandResult]

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "parameters": [p.describe() for p in self.parameters]}


# --- the table ---------------------------------------------------------------------------------

_RENAMED = {"body": "data"}  # plugin input -> proxy parameter
_PLUGIN_ONLY = {"method", "bearer_token", "fail_on_status"}
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")


def _spiff_type(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if kind is None and schema.get("enum") and all(isinstance(value, str) for value in schema["enum"]):
        kind = "string"
    return {"string": "str", "integer": "int", "number": "int", "boolean": "bool"}.get(kind, "any")  # type: ignore[arg-type]


def _http_parameters() -> tuple[Parameter, ...]:
    schema = HttpRequest.input_schema
    required = set(schema.get("required", []))
    parameters = [
        Parameter(_RENAMED.get(name, name), _spiff_type(spec), name in required)
        for name, spec in schema["properties"].items()
        if name not in _PLUGIN_ONLY
    ]
    return (*parameters, Parameter("include_response_headers", "bool"))


def commands() -> dict[str, Command]:
    """Every command by id, in the order `GET /v1/commands` lists them."""
    table = {
        f"http/{method.title()}Request": Command(f"http/{method.title()}Request", _http_parameters(), _http(method))
        for method in HTTP_METHODS
    }
    run_flow = (
        Parameter("flow_id", "str"),
        Parameter("namespace", "str"),
        Parameter("flow_name", "str"),
        Parameter("inputs", "any"),
    )
    table["millrace/RunFlow"] = Command("millrace/RunFlow", run_flow, _run_flow)
    return table


def run_command(command_id: str, parameters: Any, caller: Caller) -> CommandResult:
    """Check the parameters against the table, strip `spiff__*` ones, and run the command."""
    command = commands().get(command_id)
    if command is None:
        raise NotFound(f"Unknown command '{command_id}'.", code="command_not_found")
    if not isinstance(parameters, dict):
        raise BadRequest("The parameters must be a JSON object.", code="invalid_parameters")
    callback_url = parameters.get(CALLBACK_PARAMETER)
    own = {name: value for name, value in parameters.items() if not name.startswith(SPIFF_PREFIX)}
    _check(command, own)
    return command.execute(own, caller, callback_url if isinstance(callback_url, str) and callback_url else None)


_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "any": lambda v: True,
}


def _check(command: Command, parameters: dict[str, Any]) -> None:
    known = {p.id: p for p in command.parameters}
    problems = [f"{name}: unknown parameter" for name in parameters if name not in known]
    problems += [f"{p.id}: required" for p in command.parameters if p.required and parameters.get(p.id) is None]
    problems += [
        f"{name}: must be {known[name].type}"
        for name, value in parameters.items()
        if name in known and value is not None and not _TYPE_CHECKS[known[name].type](value)
    ]
    if problems:
        _invalid(problems)


def _invalid(problems: list[str]) -> None:
    raise BadRequest(f"Invalid parameters: {'; '.join(problems)}", code="invalid_parameters", details=problems)


# --- http commands -----------------------------------------------------------------------------


class ProxyContext:
    """The PluginContext of a proxy command: log lines become `spiff__logs` (secrets masked)."""

    def __init__(self, secrets: list[str]) -> None:
        self.namespace = ""
        self.execution_id: str | None = None
        self.task_name = "connector-proxy"
        self.callback_url: str | None = None
        self.state: dict[str, Any] = {}
        self.logs: list[str] = []
        self.masker = Masker(secrets)

    def log(self, level: str, message: str, data: dict[str, Any] | None = None) -> None:
        data = data or {}
        line = message
        if "method" in data:
            line += f": {data['method']} {data.get('url', '')}"
        if "status_code" in data:
            line += f" -> {data['status_code']} in {data.get('duration_ms', 0)} ms"
        self.logs.append(self.masker.mask_text(line))

    def kv_get(self, key: str) -> Any:
        return None

    def kv_set(self, key: str, value: Any, ttl: int | None = None) -> None:
        raise RuntimeError("Connector proxy commands have no KV store.")

    def kv_delete(self, key: str) -> bool:
        return False

    def secret(self, name: str) -> str:
        raise LookupError("Connector proxy commands have no secrets.")

    def is_cancelled(self) -> bool:
        return False


def _http(method: str) -> Callable[[dict[str, Any], Caller, str | None], CommandResult]:
    def execute(parameters: dict[str, Any], caller: Caller, callback_url: str | None) -> CommandResult:
        return _http_request(method, parameters)

    return execute


def _http_request(method: str, parameters: dict[str, Any]) -> CommandResult:
    inputs = {
        {v: k for k, v in _RENAMED.items()}.get(name, name): value
        for name, value in parameters.items()
        if value is not None and name != "include_response_headers"
    }
    inputs.update({"method": method, "fail_on_status": False})
    problems = HttpRequest.input_problems(inputs)
    if problems:
        _invalid([f"{_RENAMED.get(p['path'], p['path']) or '(parameters)'}: {p['message']}" for p in problems])
    headers = inputs.get("headers") or {}
    secrets = [str(v) for v in headers.values()] + [inputs.get("basic_auth_password", "")]
    ctx = ProxyContext(secrets)
    ctx.logs.append(f"Attempted connection to {loggable_url(inputs['url'])}")
    auth = None
    if "basic_auth_username" in inputs:
        auth = (inputs["basic_auth_username"], inputs.get("basic_auth_password", ""))
    try:
        response = send(
            ctx,
            method,
            inputs["url"],
            headers=headers,
            params=inputs.get("params"),
            body=inputs.get("body"),
            body_format=inputs.get("body_format", "json"),
            auth=auth,
            timeout=inputs.get("timeout"),
        )
    except http.OutboundError as error:
        status = 400 if error.code in _CLIENT_ERRORS else 500
        message = ctx.masker.mask_text(str(error))
        return CommandResult({}, status, {"message": message, "error_code": error.code}, ctx.logs)
    body = _response_body(response)
    if parameters.get("include_response_headers"):
        body = {"body": body, "headers": dict(response.headers)}
    return CommandResult(body, response.status_code, None, ctx.logs)


def _response_body(response: http.OutboundResponse) -> Any:
    """Parsed JSON when the upstream says JSON and it parses; `{"raw_response": text}` otherwise."""
    if response.is_json:
        try:
            return jsonlimits.loads(response.text)  # a deep body must not overflow the proxy
        except ValueError:
            pass
    return {"raw_response": response.text}


# --- millrace/RunFlow ----------------------------------------------------------------------------


def _run_flow(parameters: dict[str, Any], caller: Caller, callback_url: str | None) -> CommandResult:
    """Start a flow as the caller (executor role); 202 + callback, or wait (bounded) for its end."""
    from executions.services import execution_start

    if caller.account is None:
        raise Forbidden("millrace/RunFlow runs as a platform account: send a platform token.")
    flow = _find_flow(caller.account, parameters)
    inputs = parameters.get("inputs")
    if inputs is not None and not isinstance(inputs, dict):
        _invalid(["inputs: must be an object"])
    if callback_url is not None:
        _check_callback_url(callback_url)
    execution = execution_start(
        actor=caller.account,
        flow=flow,
        inputs=inputs or {},
        origin="connector",
        trigger_data={"spiffCallbackUrl": callback_url} if callback_url else None,
    )
    logs = [f"Started flow '{flow.namespace.name}/{flow.name}' as execution {execution.pk}"]
    if callback_url is None:
        _wait_for_end(execution, float(settings.MILLRACE_WEBHOOK_WAIT_SECONDS))
        if execution.is_terminal:
            result = flow_result(execution)
            result.logs = [*logs, *result.logs]
            return result
        logs.append(f"Execution still {execution.status} after {settings.MILLRACE_WEBHOOK_WAIT_SECONDS} seconds")
    else:
        logs.append("The result will be PUT to the callback URL")
    return CommandResult({"task_id": str(execution.pk), "status": "processing"}, 202, None, logs)


def _find_flow(account: Any, parameters: dict[str, Any]) -> Any:
    from flows.selectors import flow_get, flow_list

    if parameters.get("flow_id"):
        return flow_get(account=account, flow_id=parameters["flow_id"])
    namespace, name = parameters.get("namespace"), parameters.get("flow_name")
    if not namespace or not name:
        _invalid(["flow_id: required (or namespace and flow_name)"])
    flow = flow_list(account=account, namespaces=[namespace]).filter(name=name).first()
    if flow is None:
        raise NotFound(f"Flow '{namespace}/{name}' not found.")
    return flow


def _check_callback_url(url: str) -> None:
    """Refuse a callback URL the delivery could never reach (scheme, network policy) up front."""
    try:
        http.check_url(url)
    except http.OutboundError as error:
        _invalid([f"{CALLBACK_PARAMETER}: {error}"])


def _wait_for_end(execution: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    pause = 0.05
    while not execution.is_terminal and time.monotonic() < deadline:
        time.sleep(min(pause, max(deadline - time.monotonic(), 0)))
        pause = min(pause * 2, 0.5)
        execution.refresh_from_db(fields=["status", "outputs", "error"])


def flow_result(execution: Any) -> CommandResult:
    """An ended execution as the envelope: its outputs, or an error naming why it did not succeed."""
    if execution.status == "SUCCESS":
        body = execution.outputs if execution.outputs is not None else {}
        return CommandResult(body, 200, None, [f"Execution {execution.pk} succeeded"])
    code = _FLOW_ERROR_CODES.get(execution.status, "FLOW_FAILED")
    message = execution.error or f"The execution ended {execution.status}."
    return CommandResult(
        {}, 500, {"message": message, "error_code": code}, [f"Execution {execution.pk} ended {execution.status}"]
    )


def envelope(result: CommandResult) -> dict[str, Any]:
    return {
        "command_response": {"body": result.body, "mimetype": "application/json", "http_status": result.http_status},
        "command_response_version": 2,
        "error": result.error,
        "spiff__logs": result.logs,
    }


# --- callbacks of long-running commands ------------------------------------------------------------


@dataclass(frozen=True)
class CallbackOutcome:
    """What one PUT to a callback URL came to: `final` failures are not worth another attempt."""

    delivered: bool
    final: bool = False
    reason: str = ""


def put_callback(url: str, body: dict[str, Any]) -> CallbackOutcome:
    """PUT `body` to a callback URL through the outbound client (network policy included).

    Refusals (4xx other than 408/429, a URL the network policy refuses) are final. Logs name the
    host only: the callback URL's path is its credential.
    """
    host = http.display_host(url)
    try:
        response = http.request("PUT", url, json=body, headers={"Content-Type": "application/json"})
    except http.OutboundError as error:
        outcome = CallbackOutcome(False, error.code in _CLIENT_ERRORS, str(error))
    else:
        if response.status_code < 300:
            return CallbackOutcome(True)
        final = 400 <= response.status_code < 500 and response.status_code not in (408, 429)
        outcome = CallbackOutcome(False, final, f"status {response.status_code}")
    logger.info("Callback to %s failed: %s", host, outcome.reason)
    return outcome


def callback_delay(attempt: int) -> float:
    """Seconds before the attempt after `attempt`: 5 s, doubling, at most 10 minutes."""
    return min(CALLBACK_FIRST_DELAY_SECONDS * 2 ** (attempt - 1), CALLBACK_MAX_DELAY_SECONDS)
