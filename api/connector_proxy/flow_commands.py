"""`flows/<namespace>/<name>`: every flow the caller may run is a command of its own.

A SpiffWorkflow modeller picks the flow from the command list and fills in its declared
inputs as parameters, instead of writing `millrace/RunFlow` with an `inputs` object by hand.
The command runs the flow exactly as RunFlow does (`run_flow.start_flow`), waiting up to
MILLRACE_CONNECTOR_WAIT_SECONDS. A flow the caller cannot run (another namespace, missing,
no executor role) is no command at all: 404 `command_not_found`, as for any unknown id.

The listing is read in one query of names and sources (`flows.selectors.flow_runnable_list`)
and its JSON text cached per caller for LISTING_CACHE_SECONDS, keyed on the account, its
roles and the count and latest save of its runnable flows, so neither a role change nor a
saved or deleted flow is served stale.
"""

from __future__ import annotations

import hashlib
import json
from functools import partial
from typing import Any

from django.conf import settings
from django.core.cache import cache

from accounts.models import Account
from accounts.selectors import namespace_roles
from api.connector_proxy.protocol import Caller, Command, CommandResult, Parameter, invalid
from api.connector_proxy.run_flow import start_flow
from core.errors import ValidationFailed
from flows.definitions import FlowInput
from flows.definitions.input_types import convert
from flows.selectors import RunnableFlow, flow_get, flow_runnable_list, flow_runnable_version

PREFIX = "flows/"
LISTING_CACHE_SECONDS = 5
#: Declared input types as the proxy's parameter types; any other (STRING, DATE, URI, SELECT,
#: FILE and types added later) is text.
_PROXY_TYPES = {"INT": "int", "FLOAT": "int", "BOOLEAN": "bool", "JSON": "any", "ARRAY": "any", "MULTISELECT": "any"}


def flow_parameter(declared: FlowInput) -> Parameter:
    """A declared input as a parameter: required when the flow needs it and has no default."""
    kind = _PROXY_TYPES.get(str(declared.type), "str")
    return Parameter(declared.id, kind, declared.required and not declared.has_default)


def flow_commands_json(caller: Caller) -> str:
    """The `GET /v1/commands` entries of the flows the caller may run, as the JSON text of a list
    (`[]` for the bare API key). Cached as text: 10,000 entries are then one string to send."""
    account = caller.account
    if account is None:
        return "[]"
    key = _listing_key(account)
    text = cache.get(key)
    if text is None:
        text = json.dumps([_describe(flow) for flow in flow_runnable_list(account=account)], separators=(",", ":"))
        cache.set(key, text, LISTING_CACHE_SECONDS)
    return text


def flow_command(command_id: str, caller: Caller) -> Command | None:
    """The command `flows/<namespace>/<name>` when the caller may run that flow, else None."""
    if caller.account is None or not command_id.startswith(PREFIX):
        return None
    namespace, _, name = command_id.removeprefix(PREFIX).partition("/")
    if not namespace or not name:
        return None
    flow = next(flow_runnable_list(account=caller.account, namespace=namespace, name=name), None)
    return _command(flow) if flow is not None else None


def _describe(flow: RunnableFlow) -> dict[str, Any]:
    return {
        "id": f"{PREFIX}{flow.namespace}/{flow.name}",
        "parameters": [flow_parameter(declared).describe() for declared in flow.inputs],
    }


def _command(flow: RunnableFlow) -> Command:
    parameters = tuple(flow_parameter(declared) for declared in flow.inputs)
    return Command(f"{PREFIX}{flow.namespace}/{flow.name}", parameters, partial(_run, flow))


def _run(flow: RunnableFlow, parameters: dict[str, Any], caller: Caller, callback_url: str | None) -> CommandResult:
    """Check each input against its declared type (naming every mismatch), then start the flow.

    `run_command` has already refused unknown inputs and the wrong JSON types; this adds what
    the type itself asks (a date's format, a choice among `values`, an integer's wholeness)."""
    declared = {item.id: item for item in flow.inputs}
    inputs = {name: value for name, value in parameters.items() if value is not None}
    problems = []
    for name, value in inputs.items():
        try:
            convert(declared[name], value)
        except (ValueError, TypeError) as exc:
            problems.append(f"{name}: {exc}")
    if problems:
        invalid(problems)
    try:
        return start_flow(
            flow_get(account=caller.account, flow_id=flow.id),
            inputs,
            account=caller.account,
            callback_url=callback_url,
            wait_seconds=settings.MILLRACE_CONNECTOR_WAIT_SECONDS,
        )
    except ValidationFailed as exc:  # the start's own input rules (a FILE input takes uploads only)
        named = _named_inputs(exc)
        if not named:  # not about the inputs (a definition that no longer compiles): as RunFlow answers it
            raise
        invalid(named)


def _named_inputs(error: ValidationFailed) -> list[str]:
    details = error.details if isinstance(error.details, list) else []
    return [
        f"{item['field'].removeprefix('inputs.')}: {item.get('reason', 'invalid')}"
        for item in details
        if isinstance(item, dict) and isinstance(item.get("field"), str) and item["field"].startswith("inputs.")
    ]


def _listing_key(account: Account) -> str:
    """The account, its role in each namespace and the version of its runnable flows."""
    roles = sorted((str(namespace), role) for namespace, role in namespace_roles(account).items())
    fingerprint = repr((account.is_global_admin, roles, flow_runnable_version(account=account)))
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:32]
    return f"connector:flow-commands:{account.pk}:{digest}"
