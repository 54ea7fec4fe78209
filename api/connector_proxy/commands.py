"""The connector proxy's commands: the table `GET /v1/commands` lists and what `POST /v1/do/...` runs.

SpiffWorkflow backends call commands by id (`http/GetRequest`) with flat parameters and read
the answer from an envelope. The table is built from the plugin manifests, so the proxy and
flow tasks share one implementation (the network policy, timeouts and size caps included).
A command returns a `CommandResult`; the view only renders it. `millrace/RunFlow` is in
`run_flow`; the `flows/<namespace>/<name>` commands, one per flow the caller may run, in
`flow_commands`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from api.connector_proxy.flow_commands import flow_command, flow_commands_json
from api.connector_proxy.protocol import (
    CALLBACK_PARAMETER,
    SPIFF_PREFIX,
    Caller,
    Command,
    CommandResult,
    Parameter,
    invalid,
)
from api.connector_proxy.run_flow import RUN_FLOW_PARAMETERS, run_flow
from connectors import http
from connectors.files import FileAccess
from connectors.plugins.http import HttpRequest, send
from connectors.plugins.http import _loggable as loggable_url
from core import jsonlimits
from core.errors import BadRequest, NotFound
from vault.masking import Masker

__all__ = ["Caller", "Command", "CommandResult", "Parameter", "command_list_json", "commands", "run_command"]

#: Refusals of the caller's own making are answered 400; upstream failures 500, as the seed shows.
_CLIENT_ERRORS = frozenset({"NETWORK_POLICY_ERROR", "INVALID_URL", "FILE_NOT_FOUND"})


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
    parameters = tuple(Parameter(name, type_) for name, type_ in RUN_FLOW_PARAMETERS)
    table["millrace/RunFlow"] = Command("millrace/RunFlow", parameters, run_flow)
    return table


def command_list_json(caller: Caller) -> str:
    """The JSON text `GET /v1/commands` answers the caller: the table, then its flows' commands."""
    table = json.dumps([command.describe() for command in commands().values()], separators=(",", ":"))
    flows = flow_commands_json(caller)
    return table if flows == "[]" else f"{table[:-1]},{flows[1:]}"


def run_command(command_id: str, parameters: Any, caller: Caller) -> CommandResult:
    """Check the parameters against the command's, strip `spiff__*` ones, and run the command."""
    command = commands().get(command_id) or flow_command(command_id, caller)
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
        invalid(problems)


# --- http commands -----------------------------------------------------------------------------


class ProxyContext(FileAccess):
    """The PluginContext of a proxy command: log lines become `spiff__logs` (secrets masked).
    It has no namespace, so no file of any namespace opens."""

    deadline: float | None = None

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
        invalid([f"{_RENAMED.get(p['path'], p['path']) or '(parameters)'}: {p['message']}" for p in problems])
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
