"""`millrace/RunFlow`: start a flow from a SpiffWorkflow backend, and the result it is owed.

With `spiff__callback_url` the command answers 202 at once; the URL is stored on the execution
(`trigger_data.spiffCallbackUrl`) and, when the execution ends, the engine's callback outbox
(`executions.engine.callbacks`) records the body this module renders (`register_callback_format`,
called by the api app's `ready()`, in workers too) and PUTs it, retrying with back-off. Without
one, the command waits (bounded) for the end and answers the same envelope.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings

from api.connector_proxy.protocol import CALLBACK_PARAMETER, Caller, CommandResult, invalid
from connectors import http
from core.errors import Forbidden, NotFound
from executions.engine import callbacks
from executions.models import Execution
from executions.services import execution_start
from flows.models import Flow
from flows.selectors import flow_get, flow_list

#: The trigger_data entry holding the callback URL (read by flows as `trigger.spiffCallbackUrl`).
CALLBACK_URL_KEY = "spiffCallbackUrl"
RUN_FLOW_PARAMETERS = (("flow_id", "str"), ("namespace", "str"), ("flow_name", "str"), ("inputs", "any"))
_FLOW_ERROR_CODES = {"FAILED": "FLOW_FAILED", "CANCELLED": "FLOW_CANCELLED", "TIMED_OUT": "FLOW_TIMED_OUT"}


def run_flow(parameters: dict[str, Any], caller: Caller, callback_url: str | None) -> CommandResult:
    """Start a flow as the caller (executor role); 202 + callback, or wait (bounded) for its end."""
    if caller.account is None:
        raise Forbidden("millrace/RunFlow runs as a platform account: send a platform token.")
    flow = _find_flow(caller.account, parameters)
    inputs = parameters.get("inputs")
    if inputs is not None and not isinstance(inputs, dict):
        invalid(["inputs: must be an object"])
    return start_flow(
        flow,
        inputs or {},
        account=caller.account,
        callback_url=callback_url,
        wait_seconds=settings.MILLRACE_WEBHOOK_WAIT_SECONDS,
    )


def start_flow(
    flow: Flow, inputs: dict[str, Any], *, account: Any, callback_url: str | None, wait_seconds: float
) -> CommandResult:
    """Start `flow` as `account` (executor role): 202 when the result goes to `callback_url`,
    else its result once it ends within `wait_seconds`, else 202 with the execution id as `task_id`.
    Shared by `millrace/RunFlow` and the `flows/<namespace>/<name>` commands."""
    if callback_url is not None:
        _check_callback_url(callback_url)
    execution = execution_start(
        actor=account,
        flow=flow,
        inputs=inputs,
        origin="connector",
        trigger_data={CALLBACK_URL_KEY: callback_url} if callback_url else None,
    )
    logs = [f"Started flow '{flow.namespace.name}/{flow.name}' as execution {execution.pk}"]
    if callback_url is None:
        _wait_for_end(execution, float(wait_seconds))
        if execution.is_terminal:
            result = flow_result(execution)
            result.logs = [*logs, *result.logs]
            return result
        logs.append(f"Execution still {execution.status} after {wait_seconds} seconds")
    else:
        logs.append("The result will be PUT to the callback URL")
    return CommandResult({"task_id": str(execution.pk), "status": "processing"}, 202, None, logs)


def _find_flow(account: Any, parameters: dict[str, Any]) -> Flow:
    if parameters.get("flow_id"):
        return flow_get(account=account, flow_id=parameters["flow_id"])
    namespace, name = parameters.get("namespace"), parameters.get("flow_name")
    if not namespace or not name:
        invalid(["flow_id: required (or namespace and flow_name)"])
    flow = flow_list(account=account, namespaces=[namespace]).filter(name=name).first()
    if flow is None:
        raise NotFound(f"Flow '{namespace}/{name}' not found.")
    return flow


def _check_callback_url(url: str) -> None:
    """Refuse a callback URL the delivery could never reach (scheme, network policy) up front."""
    try:
        http.check_url(url)
    except http.OutboundError as error:
        invalid([f"{CALLBACK_PARAMETER}: {error}"])


def _wait_for_end(execution: Execution, seconds: float) -> None:
    """Read the execution until it ends or `seconds` pass; once even for 0 (it may have ended already)."""
    deadline = time.monotonic() + seconds
    pause = 0.05
    execution.refresh_from_db(fields=["status", "outputs", "error"])
    while not execution.is_terminal and time.monotonic() < deadline:
        time.sleep(min(pause, max(deadline - time.monotonic(), 0)))
        pause = min(pause * 2, 0.5)
        execution.refresh_from_db(fields=["status", "outputs", "error"])


def flow_result(execution: Execution) -> CommandResult:
    """An ended execution as the envelope: its outputs, or an error naming why it did not succeed."""
    if execution.status in ("SUCCESS", "WARNING"):  # WARNING: a step with `allowFailure` failed
        body = execution.outputs if execution.outputs is not None else {}
        return CommandResult(body, 200, None, [f"Execution {execution.pk} succeeded"])
    code = _FLOW_ERROR_CODES.get(execution.status, "FLOW_FAILED")
    message = execution.error or f"The execution ended {execution.status}."
    return CommandResult(
        {}, 500, {"message": message, "error_code": code}, [f"Execution {execution.pk} ended {execution.status}"]
    )


def callback_body(execution: Execution) -> dict[str, Any]:
    """What the callback URL of an ended RunFlow execution receives: its result's envelope."""
    return flow_result(execution).as_envelope()


def register_callback_format() -> None:
    """Tell the engine's outbox where RunFlow executions keep their callback URL and what it PUTs."""
    callbacks.register_format("connector", url_key=CALLBACK_URL_KEY, render=callback_body)
