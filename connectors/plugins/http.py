"""HTTP plugins: `http.request`, `webhook` and workflowsvc's `REST_CONNECTOR`.

All three send through `connectors.http`, so the network policy, timeouts and size caps apply.
They log what they did (method, URL without credentials or query, status, duration) and never
header values, auth or bodies, which can carry secrets.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from connectors import http
from connectors.registry import Plugin, PluginContext, Result, register

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
HTTP_ERROR = "HTTP_ERROR"

_SCALAR = {"type": ["string", "number", "boolean", "null"]}
_FIELD = {"anyOf": [_SCALAR, {"type": "array", "items": _SCALAR}], "description": "null leaves the field out."}
_HEADERS = {
    "type": "object",
    "additionalProperties": {"type": ["string", "number", "boolean"]},
    "description": "Request headers (numbers and booleans are sent as their JSON text).",
}
_TIMEOUT = {
    "type": "number",
    "exclusiveMinimum": 0,
    "description": "Seconds for the whole call (default MILLRACE_HTTP_TIMEOUT; capped by the platform).",
}
_FAIL_ON_STATUS = {
    "type": "boolean",
    "default": True,
    "description": "Fail the step when the response status is 400 or above.",
}
_RESPONSE = {
    "type": "object",
    "properties": {
        "status_code": {"type": "integer"},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "body": {"description": "Parsed JSON when the response says it is JSON, else the text."},
    },
    "required": ["status_code", "headers", "body"],
}


def _loggable(url: str) -> str:
    """The URL without user info, query or fragment: those are where credentials and API keys travel.
    A URL that does not parse is named as such; the outbound client refuses it with INVALID_URL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(a URL that does not parse)"
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def send(
    ctx: PluginContext,
    method: str,
    url: str,
    *,
    headers: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    body: Any = None,
    body_format: str = "json",
    auth: tuple[str, str] | None = None,
    timeout: float | None = None,
) -> http.OutboundResponse:
    """Send one request through the outbound client, logging the outcome; raises http.OutboundError."""
    headers = {name: _text(value) for name, value in (headers or {}).items()}
    json_body, data = None, None
    if body is not None and body_format == "json":
        json_body = body
    elif body is not None and body_format == "form":
        data = _fields(body)
    elif body is not None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        if not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "text/plain; charset=utf-8"
    where = {"method": method, "url": _loggable(url)}
    started = time.monotonic()
    try:
        response = http.request(
            method,
            url,
            headers=headers,
            params=_fields(params or {}),
            json=json_body,
            data=data,
            auth=auth,
            timeout=timeout,
        )
    except http.OutboundError as error:
        ctx.log("error", f"HTTP request failed: {error}", {**where, "error_code": error.code})
        raise
    details = {**where, "status_code": response.status_code, "duration_ms": _ms_since(started)}
    if response.status_code >= 400:
        ctx.log("warn", f"HTTP request returned status {response.status_code}", details)
    else:
        ctx.log("info", "HTTP request successful", details)
    return response


def _text(value: Any) -> Any:
    """A scalar as text, spelled the JSON way (requests would send True as 'True'); None stays None."""
    return value if value is None or isinstance(value, str) else json.dumps(value)


def _fields(values: dict[str, Any]) -> dict[str, Any]:
    """Form and query values as text; a list repeats the field and None leaves it out."""
    return {
        key: [_text(item) for item in value] if isinstance(value, list) else _text(value)
        for key, value in values.items()
    }


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _status_failure(status_code: int, outputs: Any) -> Result:
    return Result.failed(f"HTTP request failed with status {status_code}", code=HTTP_ERROR, outputs=outputs)


def _outputs(response: http.OutboundResponse) -> dict[str, Any]:
    return {"status_code": response.status_code, "headers": dict(response.headers), "body": response.body()}


@register
class HttpRequest(Plugin):
    id = "http.request"
    url_inputs = ("url",)
    name = "HTTP request"
    category = "http"
    description = (
        "Sends an HTTP request and returns its status, headers and body. Fails on status 400 or above "
        "unless fail_on_status is false."
    )
    input_schema = {
        "type": "object",
        "properties": {
            "url": {"type": "string", "minLength": 1, "description": "http or https URL."},
            "method": {"enum": METHODS, "default": "GET"},
            "headers": _HEADERS,
            "params": {
                "type": "object",
                "additionalProperties": _FIELD,
                "description": "Query-string parameters (a list repeats the parameter).",
            },
            "body": {"description": "Request body, sent as body_format says."},
            "body_format": {
                "enum": ["json", "form", "raw"],
                "default": "json",
                "description": "json: the body as JSON; form: an object, form-encoded; raw: a string as is "
                "(any other value as JSON text), Content-Type text/plain unless a header says otherwise.",
            },
            "basic_auth_username": {"type": "string"},
            "basic_auth_password": {"type": "string"},
            "bearer_token": {"type": "string", "description": "Sent as 'Authorization: Bearer <token>'."},
            "timeout": _TIMEOUT,
            "fail_on_status": _FAIL_ON_STATUS,
        },
        "required": ["url"],
        "if": {"required": ["body_format"], "properties": {"body_format": {"const": "form"}}},
        "then": {"properties": {"body": {"type": "object", "additionalProperties": _FIELD}}},
    }
    output_schema = _RESPONSE

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        if "bearer_token" in inputs and "basic_auth_username" in inputs:
            return Result.failed("Give basic auth or a bearer token, not both.", code="INVALID_INPUT")
        headers = dict(inputs.get("headers") or {})
        auth = None
        if "basic_auth_username" in inputs:
            auth = (inputs["basic_auth_username"], inputs.get("basic_auth_password", ""))
        if "bearer_token" in inputs:
            headers["Authorization"] = f"Bearer {inputs['bearer_token']}"
        try:
            response = send(
                ctx,
                inputs.get("method", "GET"),
                inputs["url"],
                headers=headers,
                params=inputs.get("params"),
                body=inputs.get("body"),
                body_format=inputs.get("body_format", "json"),
                auth=auth,
                timeout=inputs.get("timeout"),
            )
        except http.OutboundError as error:
            return Result.failed(str(error), code=error.code)
        outputs = _outputs(response)
        if response.status_code >= 400 and inputs.get("fail_on_status", True):
            return _status_failure(response.status_code, outputs)
        return Result.success(outputs)


@register
class Webhook(Plugin):
    id = "webhook"
    url_inputs = ("url",)
    name = "Webhook"
    category = "http"
    description = (
        "Delivers a JSON payload to a URL (POST unless method says otherwise); fails on status 400 or above. "
        "In a nodes-format flow a node without body sends the previous node's outputs."
    )
    previous_outputs_input = "body"
    input_schema = {
        "type": "object",
        "properties": {
            "url": {"type": "string", "minLength": 1, "description": "http or https URL."},
            "method": {"enum": METHODS, "default": "POST"},
            "headers": _HEADERS,
            "body": {
                "description": "The payload, sent as JSON (a node of a nodes-format flow without it sends the "
                "previous node's outputs; null is sent as the JSON null)."
            },
            "timeout": _TIMEOUT,
            "fail_on_status": _FAIL_ON_STATUS,
        },
        "required": ["url"],
    }
    output_schema = _RESPONSE

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        headers = dict(inputs.get("headers") or {})
        body, body_format = inputs.get("body"), "json"
        if "body" in inputs and body is None:  # a payload that is JSON null is still a JSON payload
            body, body_format = "null", "raw"
            if not any(name.lower() == "content-type" for name in headers):
                headers["Content-Type"] = "application/json"
        try:
            response = send(
                ctx,
                inputs.get("method", "POST"),
                inputs["url"],
                headers=headers,
                body=body,
                body_format=body_format,
                timeout=inputs.get("timeout"),
            )
        except http.OutboundError as error:
            return Result.failed(str(error), code=error.code)
        outputs = _outputs(response)
        if response.status_code >= 400 and inputs.get("fail_on_status", True):
            return _status_failure(response.status_code, outputs)
        return Result.success(outputs)


REST_FIELDS = ("_url", "_method", "_headers", "_body")


@register
class RestConnector(Plugin):
    id = "REST_CONNECTOR"
    url_inputs = ("_url",)
    name = "REST connector"
    category = "http"
    description = (
        "workflowsvc's REST call: _url, _method, _headers and a JSON _body, from the task's input or else the "
        "run's _inputParams (_url and _method only when the task sets neither _headers nor _body); "
        "fails on status 400 or above."
    )
    input_schema = {
        "type": "object",
        "properties": {
            "_url": {"type": "string", "minLength": 1, "description": "http or https URL."},
            "_method": {"enum": METHODS, "default": "GET"},
            "_headers": _HEADERS,
            "_body": {"description": "Request body, sent as JSON."},
        },
    }
    output_schema = {
        "type": "object",
        "properties": {
            "_statusCode": {"type": "integer"},
            "_headers": {"type": "object", "additionalProperties": {"type": "string"}},
            "_body": {"description": "Parsed JSON when the response says it is JSON, else the text."},
        },
        "required": ["_statusCode", "_headers", "_body"],
    }

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        """Call the endpoint; fields the task leaves unset come from the run's `_inputParams`.

        `_url` and `_method` come from the run only while the task sets neither `_headers`
        nor `_body`: those may carry the definition's credentials, and an executor (who may
        start runs but not edit flows) must not be able to send them to a server of their own.
        """
        pinned = any(inputs.get(key) is not None for key in ("_headers", "_body"))
        taken = ("_headers", "_body") if pinned else REST_FIELDS
        run_params = {key: value for key, value in ctx.execution_inputs.items() if key in taken}
        inputs = {**run_params, **{key: value for key, value in inputs.items() if value is not None}}
        if not isinstance(inputs.get("_url"), str) or not inputs["_url"]:
            return Result.failed(
                "REST_CONNECTOR needs `_url` in its input or in the run's _inputParams.", code="INVALID_INPUT"
            )
        try:
            response = send(
                ctx,
                inputs.get("_method", "GET"),
                inputs["_url"],
                headers=inputs.get("_headers"),
                body=inputs.get("_body"),
            )
        except http.OutboundError as error:
            return Result.failed(str(error), code=error.code)
        outputs = {"_statusCode": response.status_code, "_headers": dict(response.headers), "_body": response.body()}
        if response.status_code >= 400:
            return _status_failure(response.status_code, outputs)
        return Result.success(outputs)
