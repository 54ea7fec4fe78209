"""`connector.call`: a flow task that calls a SpiffWorkflow-compatible connector proxy.

It POSTs the parameters to `{baseUrl}/v1/do/{command}` with a `spiff__callback_url` pointing
back at Millrace, as a SpiffWorkflow backend does. A 202 leaves the task WAITING (the worker
is freed) until the proxy PUTs the envelope to that URL; `resume` turns it into outputs. An
envelope carrying `error`, or a status of 300 or more, fails the task with the proxy's
`error_code` (as its code, and leading its error text), so retries and error handlers apply.
The API key and the callback URL (its token is a credential) are never logged.
"""

from __future__ import annotations

from typing import Any

from connectors import http
from connectors.plugins.http import HTTP_ERROR, send
from connectors.registry import Plugin, PluginContext, Result, Wait, WaitKind, register

API_KEY_HEADER = "Spiff-Connector-Proxy-Api-Key"
INVALID_RESPONSE = "INVALID_CONNECTOR_RESPONSE"
CONNECTOR_ERROR = "CONNECTOR_ERROR"


def _from_envelope(envelope: Any, status: int) -> Result:
    """SUCCESS with `command_response.body`, or FAILED with the envelope's error or status."""
    if not isinstance(envelope, dict) or not isinstance(envelope.get("command_response"), dict):
        if status >= 300:
            return Result.failed(f"The connector proxy answered status {status}.", code=HTTP_ERROR, outputs=envelope)
        return Result.failed("The connector proxy did not answer with an envelope.", code=INVALID_RESPONSE)
    response = envelope["command_response"]
    body = response.get("body")
    http_status = response.get("http_status")
    error = envelope.get("error")
    if error:
        return _envelope_failure(error, body)
    status = http_status if isinstance(http_status, int) else status
    if status >= 300:
        return Result.failed(f"The connector command answered status {status}.", code=HTTP_ERROR, outputs=body)
    return Result.success(body)


def _envelope_failure(error: Any, body: Any) -> Result:
    """FAILED with the envelope's error, its `error_code` leading the text (`TIMEOUT_ERROR: Connection timeout`).

    The code goes into the text too: the error is what FlowRunner, workflowdev and the console
    show of a failed step, and the proxy's message alone rarely says which failure it was.
    """
    message = error.get("message") if isinstance(error, dict) else str(error)
    code = error.get("error_code") if isinstance(error, dict) else None
    text = str(message) if message else "The connector command failed."
    if not code:
        return Result.failed(text, code=CONNECTOR_ERROR, outputs=body)
    return Result.failed(f"{code}: {text}", code=str(code), outputs=body)


@register
class ConnectorCall(Plugin):
    id = "connector.call"
    url_inputs = ("baseUrl",)
    name = "Connector proxy call"
    category = "connector"
    description = (
        "Runs a command of a SpiffWorkflow-compatible connector proxy (POST {baseUrl}/v1/do/{command}). "
        "Outputs command_response.body; a 202 waits for the proxy's callback."
    )
    input_schema = {
        "type": "object",
        "properties": {
            "baseUrl": {"type": "string", "minLength": 1, "description": "The proxy's base URL (before /v1)."},
            "command": {
                "type": "string",
                "pattern": r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$",
                "description": "A command id such as http/GetRequest.",
            },
            "parameters": {"type": "object", "default": {}, "description": "The command's parameters."},
            "apiKey": {"type": "string", "description": "Sent as the Spiff-Connector-Proxy-Api-Key header."},
            "headers": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "More request headers, e.g. Authorization for a proxy that wants a token.",
            },
            "timeout": {"type": "number", "exclusiveMinimum": 0, "description": "Seconds for the call."},
        },
        "required": ["baseUrl", "command"],
    }
    output_schema = {"description": "command_response.body of the proxy's envelope."}
    documentation = """\
Calls a command of a connector proxy, the HTTP service SpiffWorkflow uses for its service tasks
(Millrace is one too, at its own `/v1/`): the task POSTs `parameters` to
`{baseUrl}/v1/do/{command}` and outputs the `command_response.body` of the answer.

- `baseUrl`: the proxy's URL, before `/v1`. The outbound network policy applies.
- `command`: the command id, `plugin/Command` (e.g. `http/GetRequest`).
- `parameters`: the command's parameters (an object).
- `apiKey`: sent as the `Spiff-Connector-Proxy-Api-Key` header; use a secret (`${PROXY_KEY}`).
- `headers`: more request headers; `timeout`: seconds for the call.

A proxy that answers 202 runs the command in the background: the task waits, holding no
worker, until the proxy PUTs the result to the callback URL it was given. An envelope with an
`error`, or a status of 300 or more, fails the task with the proxy's `error_code` leading the
error text, so retries and error handlers apply.
"""
    example = """\
- name: fetch-status
  type: connector.call
  properties:
    baseUrl: https://connectors.example.com
    command: http/GetRequest
    parameters:
      url: https://status.example.com/api/v2/status.json
    apiKey: "${CONNECTOR_PROXY_KEY}"
    timeout: 30
"""

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        headers = dict(inputs.get("headers") or {})
        if inputs.get("apiKey"):
            headers[API_KEY_HEADER] = inputs["apiKey"]
        parameters = dict(inputs.get("parameters") or {})
        if ctx.callback_url:
            parameters["spiff__callback_url"] = ctx.callback_url
        url = f"{inputs['baseUrl'].rstrip('/')}/v1/do/{inputs['command']}"
        try:
            response = send(ctx, "POST", url, headers=headers, body=parameters, timeout=inputs.get("timeout"))
        except http.OutboundError as error:
            return Result.failed(str(error), code=error.code)
        envelope = response.body()
        if response.status_code == 202:
            body = envelope.get("command_response", {}).get("body") if isinstance(envelope, dict) else None
            ctx.log("info", f"Connector command '{inputs['command']}' accepted; waiting for its callback")
            task_id = body.get("task_id") if isinstance(body, dict) else None
            return Result.waiting(Wait(WaitKind.CALLBACK, data={"taskId": task_id}), outputs=body)
        return _from_envelope(envelope, response.status_code)

    def resume(self, inputs: dict[str, Any], ctx: PluginContext, payload: Any) -> Result:
        ctx.log("info", f"Connector command '{inputs['command']}' called back")
        return _from_envelope(payload, 200)
