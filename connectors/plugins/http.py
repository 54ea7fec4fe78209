"""HTTP plugins: `http.request`, `webhook` and workflowsvc's `REST_CONNECTOR`.

All three send through `connectors.http`, so the network policy, timeouts and size caps apply.
They log what they did (method, URL without credentials or query, status, duration) and never
header values, auth or bodies, which can carry secrets. A body that is a `millrace:///` file
URI sends that file's bytes: files are how steps hand large or binary content to each other.
"""

from __future__ import annotations

import json
import time
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

from connectors import http
from connectors.registry import Plugin, PluginContext, Result, register
from core.filerefs import FileRefError, is_uri

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
HTTP_ERROR = "HTTP_ERROR"

_SCALAR = {"type": ["string", "number", "boolean", "null"]}
FIELD_SCHEMA = {"anyOf": [_SCALAR, {"type": "array", "items": _SCALAR}], "description": "null leaves the field out."}
HEADERS_SCHEMA = {
    "type": "object",
    # A name is an RFC 9110 token and a value holds no line break or NUL: anything else would be
    # malformed HTTP that servers and proxies on the way read each in their own way.
    "propertyNames": {"pattern": "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$"},
    "additionalProperties": {"type": ["string", "number", "boolean"], "pattern": "^[^\r\n\x00]*$"},
    "description": "Request headers (numbers and booleans are sent as their JSON text).",
}
TIMEOUT_SCHEMA = {
    "type": "number",
    "exclusiveMinimum": 0,
    "description": "Seconds for the whole call (default MILLRACE_HTTP_TIMEOUT; capped by the platform).",
}
FAIL_ON_STATUS_SCHEMA = {
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


class BodyFileNotFound(http.OutboundError):
    """A file URI body the step cannot read: missing, another namespace's, or a context without files."""

    code = "FILE_NOT_FOUND"


class BodyFileTooLarge(http.OutboundError):
    """A file URI body over MILLRACE_MAX_FILE_BYTES (possible only when the setting was lowered since)."""

    code = "FILE_TOO_LARGE"


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
    sink: IO[bytes] | None = None,
    max_bytes: int | None = None,
) -> http.OutboundResponse:
    """Send one request through the outbound client, logging the outcome; raises http.OutboundError.

    A `body` that is a file URI (json or raw format) sends the file's bytes, as
    application/octet-stream unless a header names the type. `sink` and `max_bytes` are the
    client's: the body streams into `sink` instead of memory.
    """
    headers = {name: _text(value) for name, value in (headers or {}).items()}
    where = {"method": method, "url": _loggable(url)}
    started = time.monotonic()
    json_body, data = None, None
    try:
        if is_uri(body) and body_format != "form":
            data = _file_body(ctx, body)
            _default_type(headers, "application/octet-stream")
        elif body is not None and body_format == "json":
            json_body = body
        elif body is not None and body_format == "form":
            data = _fields(body)
        elif body is not None:
            data = (body if isinstance(body, str) else json.dumps(body)).encode()
            _default_type(headers, "text/plain; charset=utf-8")
        response = http.request(
            method,
            url,
            headers=headers,
            params=_fields(params or {}),
            json=json_body,
            data=data,
            auth=auth,
            timeout=timeout,
            sink=sink,
            max_bytes=max_bytes,
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


def _file_body(ctx: PluginContext, uri: str) -> bytes:
    """The bytes of a file URI body, read whole: a 307/308 redirect sends the body again, which a
    half-read file could not. Stored files are at most MILLRACE_MAX_FILE_BYTES."""
    limit = settings.MILLRACE_MAX_FILE_BYTES
    try:
        with ctx.file_open(uri) as file:
            content = file.read(limit + 1)
    except (FileNotFoundError, FileRefError) as error:  # another namespace's file reads as a missing one
        raise BodyFileNotFound(f"The body's file was not found: {uri}") from error
    if len(content) > limit:
        raise BodyFileTooLarge(f"The body's file is larger than the {limit}-byte limit.")
    return content


def _default_type(headers: dict[str, Any], media_type: str) -> None:
    if not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = media_type


def step_timeout(timeout: float | None, deadline: float | None) -> float | None:
    """Seconds a call may take: the task's `timeout`, shortened to what is left of the step's time.

    Raises http.OutboundTimeout when the step's time is already spent (the client reads a
    timeout of zero as "the default").
    """
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise http.OutboundTimeout("The step's time ran out before the request was sent.")
    return remaining if timeout is None else min(timeout, remaining)


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
    documentation = """\
Sends one HTTP request and returns the response's status, headers and body.

- **url**: http or https only. The network policy applies to the host and to every redirect
  (at most 5 are followed): loopback, private, link-local and cloud-metadata addresses are
  refused unless the operator opens them with `MILLRACE_HTTP_ALLOWED_NETWORKS`.
- **method**: GET (default), POST, PUT, PATCH, DELETE, HEAD or OPTIONS; **headers**: numbers
  and booleans are sent as their JSON text.
- **params**: the query string; a list repeats the parameter, `null` leaves it out.
- **body** and **body_format**: `json` (default) sends any value as JSON; `form` sends an object
  form-encoded; `raw` sends a string as is (`text/plain` unless a `Content-Type` header says
  otherwise). A body that is a file URI (`millrace:///...`, e.g. an `http.download` or
  `sql.query` output) sends the file's bytes as `application/octet-stream` unless a header
  sets the type; a URI of another namespace fails the step like a missing file.
- **Auth**: `basic_auth_username`/`basic_auth_password` or `bearer_token` (not both). Pass
  credentials as secrets (`${API_TOKEN}`); header values, auth and bodies are never logged.
- **timeout**: seconds for the whole call, body included (default `MILLRACE_HTTP_TIMEOUT`).
  The response body is capped at `MILLRACE_HTTP_MAX_RESPONSE_BYTES`; a bigger one fails the
  step with `RESPONSE_TOO_LARGE` (use `http.download` to store large responses as files).
- **fail_on_status**: a status of 400 or above fails the step (`HTTP_ERROR`, the response in
  its outputs) unless this is `false`.

Outputs: `status_code`, `headers`, and `body` (parsed JSON when the response says JSON, else
text). Failures name the host, never the path or query, which can carry tokens.
"""
    example = """\
- name: create-ticket
  type: http.request
  properties:
    url: https://api.example.com/tickets
    method: POST
    bearer_token: "${API_TOKEN}"
    headers:
      Accept: application/json
    body:
      title: "Disk almost full on {{ inputs.host }}"
      priority: high
"""
    input_schema = {
        "type": "object",
        "properties": {
            "url": {"type": "string", "minLength": 1, "description": "http or https URL."},
            "method": {"enum": METHODS, "default": "GET"},
            "headers": HEADERS_SCHEMA,
            "params": {
                "type": "object",
                "additionalProperties": FIELD_SCHEMA,
                "description": "Query-string parameters (a list repeats the parameter).",
            },
            "body": {
                "description": "Request body, sent as body_format says; a file URI (millrace:///...) sends "
                "that file's bytes."
            },
            "body_format": {
                "enum": ["json", "form", "raw"],
                "default": "json",
                "description": "json: the body as JSON; form: an object, form-encoded; raw: a string as is "
                "(any other value as JSON text), Content-Type text/plain unless a header says otherwise.",
            },
            "basic_auth_username": {"type": "string"},
            "basic_auth_password": {"type": "string"},
            "bearer_token": {"type": "string", "description": "Sent as 'Authorization: Bearer <token>'."},
            "timeout": TIMEOUT_SCHEMA,
            "fail_on_status": FAIL_ON_STATUS_SCHEMA,
        },
        "required": ["url"],
        "if": {"required": ["body_format"], "properties": {"body_format": {"const": "form"}}},
        "then": {"properties": {"body": {"type": "object", "additionalProperties": FIELD_SCHEMA}}},
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
    documentation = """\
Delivers a JSON payload to a URL, FlowRunner's `webhook` node: `POST` unless `method` says
otherwise, with the request `headers` given, the `body` as JSON (`null` is sent as the JSON
`null`). In a nodes-format flow, a node without `body` sends the previous node's outputs. A
body that is a file URI sends the file's bytes (`application/octet-stream` unless a header
sets the type).

The `url` is checked by the network policy at every redirect hop, as for `http.request`;
`timeout` bounds the whole call (default `MILLRACE_HTTP_TIMEOUT`), and the response is capped
at `MILLRACE_HTTP_MAX_RESPONSE_BYTES`. A status of 400 or above fails the step unless
`fail_on_status` is `false`. For chat services
(Slack, Teams, Discord) use the `notify.*` plugins: they retry on 429 and 5xx.

Outputs: `status_code`, `headers`, `body` (parsed JSON when the response says JSON, else text).
"""
    example = """\
- name: tell-crm
  type: webhook
  properties:
    url: https://crm.example.com/hooks/orders
    headers:
      X-Signature: "${CRM_HOOK_SECRET}"
    body:
      order: "{{ inputs.orderId }}"
      status: shipped
"""
    input_schema = {
        "type": "object",
        "properties": {
            "url": {"type": "string", "minLength": 1, "description": "http or https URL."},
            "method": {"enum": METHODS, "default": "POST"},
            "headers": HEADERS_SCHEMA,
            "body": {
                "description": "The payload, sent as JSON (a node of a nodes-format flow without it sends the "
                "previous node's outputs; null is sent as the JSON null)."
            },
            "timeout": TIMEOUT_SCHEMA,
            "fail_on_status": FAIL_ON_STATUS_SCHEMA,
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
    documentation = """\
workflowsvc's REST call. `_url` (required somewhere), `_method` (default `GET`), `_headers`
and a JSON `_body` come from the task's input; fields the task leaves unset come from the
run's `_inputParams`. `_url` and `_method` are taken from the run only while the task sets
neither `_headers` nor `_body`: those may carry the definition's credentials, and someone who
may start runs but not edit the definition must not be able to send them to another host.

The network policy, redirects, timeouts and the response cap are those of `http.request`. A
status of 400 or above fails the step (`HTTP_ERROR`, the response in its outputs). A `_body`
that is a file URI sends the file's bytes.

Outputs: `_statusCode`, `_headers`, `_body` (parsed JSON when the response says JSON, else text).
"""
    example = """\
- name: fetch-customer
  type: REST_CONNECTOR
  properties:
    _url: "https://api.example.com/customers/{{ inputs.customerId }}"
    _method: GET
    _headers:
      Authorization: "Bearer ${API_TOKEN}"
"""
    input_schema = {
        "type": "object",
        "properties": {
            "_url": {"type": "string", "minLength": 1, "description": "http or https URL."},
            "_method": {"enum": METHODS, "default": "GET"},
            "_headers": HEADERS_SCHEMA,
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
