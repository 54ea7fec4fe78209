"""`http.download`: an HTTP response body stored as a file of the step, for the steps after it.

The body streams into a temporary file as it arrives, never whole into memory, and is stored
only once all of it came and the status is accepted: a refused, failed or oversize download
leaves nothing behind. The cap is MILLRACE_MAX_FILE_BYTES, what storage accepts anyway (the
in-memory MILLRACE_HTTP_MAX_RESPONSE_BYTES of `http.request` does not apply), or `max_bytes`
when that is lower.
"""

from __future__ import annotations

import re
import tempfile
from email.message import Message
from typing import Any
from urllib.parse import unquote, urlsplit

from connectors import http
from connectors.plugins.http import (
    FAIL_ON_STATUS_SCHEMA,
    FIELD_SCHEMA,
    HEADERS_SCHEMA,
    HTTP_ERROR,
    TIMEOUT_SCHEMA,
    send,
    step_timeout,
)
from connectors.registry import Plugin, PluginContext, Result, register
from core.filerefs import FileRefError, FileTooLarge, clean_path

DEFAULT_NAME = "download"
MAX_NAME_BYTES = 200  # a segment's bytes on disk: 255 is the usual limit, a multibyte name reaches it early
MAX_HEADERS = 100
MAX_HEADER_CHARS = 1024
SPOOL_BYTES = 1024 * 1024  # smaller bodies stay in memory until stored
DOWNLOAD_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]

_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


def file_name(disposition: str, url: str) -> str:
    """The name a download is stored under: Content-Disposition's filename (`filename*` too), else
    the last segment of the URL path, else `download`. A server's name keeps its last segment only,
    so `../../etc/passwd` is stored as `passwd`, inside the step's own directory."""
    for candidate in (_disposition_name(disposition), _url_name(url)):
        name = _safe_segment(candidate)
        if name:
            return name
    return DEFAULT_NAME


def _disposition_name(value: str) -> str | None:
    if not value:
        return None
    message = Message()
    message["Content-Disposition"] = value
    return message.get_filename()


def _url_name(url: str) -> str | None:
    try:
        path = urlsplit(url).path
    except ValueError:
        return None
    return unquote(path.rsplit("/", 1)[-1])


def _safe_segment(name: str | None) -> str | None:
    if not name:
        return None
    segment = _UNSAFE.sub("", re.split(r"[/\\]", name)[-1]).strip()
    if segment in ("", ".", ".."):
        return None
    segment = segment.encode()[:MAX_NAME_BYTES].decode(errors="ignore")
    try:
        return clean_path(segment)
    except FileRefError:
        return None


def _headers(response: http.OutboundResponse) -> dict[str, str]:
    """At most MAX_HEADERS headers, each value cut at MAX_HEADER_CHARS: they go into the outputs."""
    items = list(response.headers.items())[:MAX_HEADERS]
    return {name: value[:MAX_HEADER_CHARS] for name, value in items}


@register
class HttpDownload(Plugin):
    id = "http.download"
    url_inputs = ("url",)
    name = "HTTP download"
    category = "http"
    description = (
        "Downloads a URL into a file of the execution and returns its URI, size, status and headers. "
        "Fails on status 400 or above unless fail_on_status is false."
    )
    documentation = """\
Sends a request (`GET` unless `method` says otherwise) and stores the response body as a file of
the step. Later steps pass the `uri` output on: as the body of `http.request`, an attachment of
`mail.send`, an input file of a script.

- **url**, **headers**, **params**, **body**/**body_format**, **timeout**: as in `http.request`;
  the network policy applies to the host and to every redirect hop.
- **Size**: the body streams to a temporary file, never whole into memory, and is capped at
  `MILLRACE_MAX_FILE_BYTES` (or `max_bytes` when lower). A bigger body, announced or not, fails
  the step with `RESPONSE_TOO_LARGE` and nothing is stored. `timeout` covers the whole
  download; raise it for big files (the platform caps it).
- **File name**: `filename` when given (it may hold directories, `reports/q1.csv`; `..` is
  refused); else the `filename` of the response's `Content-Disposition`; else the last segment
  of the URL path; else `download`. A name from the server keeps its last segment only
  (`../../etc/passwd` becomes `passwd`).
- **fail_on_status**: a status of 400 or above fails the step (`HTTP_ERROR`, nothing stored)
  unless this is `false`, in which case the error body is stored like any other.

Outputs: `uri` (`millrace:///...`), `filename`, `size` (bytes), `code` (the status),
`contentType` (the `Content-Type` header, empty when none) and `headers` (at most 100, each
value cut at 1024 characters).
"""
    example = """\
- name: fetch-report
  type: http.download
  properties:
    url: https://reports.example.com/daily.csv
    headers:
      Authorization: "Bearer ${REPORTS_TOKEN}"
    timeout: 120
"""
    input_schema = {
        "type": "object",
        "properties": {
            "url": {"type": "string", "minLength": 1, "description": "http or https URL."},
            "method": {"enum": DOWNLOAD_METHODS, "default": "GET"},
            "headers": HEADERS_SCHEMA,
            "params": {
                "type": "object",
                "additionalProperties": FIELD_SCHEMA,
                "description": "Query-string parameters (a list repeats the parameter).",
            },
            "body": {"description": "Request body, sent as body_format says (a file URI sends that file)."},
            "body_format": {"enum": ["json", "form", "raw"], "default": "json"},
            "filename": {
                "type": "string",
                "minLength": 1,
                "maxLength": 1024,
                "description": "The stored file's name (default: from Content-Disposition or the URL).",
            },
            "max_bytes": {
                "type": "integer",
                "minimum": 1,
                "description": "Refuse a body larger than this (never above MILLRACE_MAX_FILE_BYTES).",
            },
            "timeout": TIMEOUT_SCHEMA,
            "fail_on_status": FAIL_ON_STATUS_SCHEMA,
        },
        "required": ["url"],
        "if": {"required": ["body_format"], "properties": {"body_format": {"const": "form"}}},
        "then": {"properties": {"body": {"type": "object", "additionalProperties": FIELD_SCHEMA}}},
    }
    output_schema = {
        "type": "object",
        "properties": {
            "uri": {"type": "string", "description": "The stored file (millrace:///...)."},
            "filename": {"type": "string"},
            "size": {"type": "integer", "minimum": 0},
            "code": {"type": "integer", "description": "The response status."},
            "contentType": {"type": "string"},
            "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        "required": ["uri", "filename", "size", "code", "contentType", "headers"],
    }

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        if "filename" in inputs:
            try:
                clean_path(inputs["filename"])
            except FileRefError as error:
                return Result.failed(f"filename: {error}", code="INVALID_INPUT")
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            try:
                response = send(
                    ctx,
                    inputs.get("method", "GET"),
                    inputs["url"],
                    headers=inputs.get("headers"),
                    params=inputs.get("params"),
                    body=inputs.get("body"),
                    body_format=inputs.get("body_format", "json"),
                    timeout=step_timeout(inputs.get("timeout"), ctx.deadline),
                    sink=spool,
                    max_bytes=inputs.get("max_bytes"),
                )
            except http.OutboundError as error:
                return Result.failed(str(error), code=error.code)
            outputs: dict[str, Any] = {
                "code": response.status_code,
                "contentType": response.headers.get("Content-Type", ""),
                "headers": _headers(response),
            }
            if response.status_code >= 400 and inputs.get("fail_on_status", True):
                return Result.failed(
                    f"HTTP download failed with status {response.status_code}", code=HTTP_ERROR, outputs=outputs
                )
            name = inputs.get("filename") or file_name(response.headers.get("Content-Disposition", ""), response.url)
            size = spool.tell()
            spool.seek(0)
            try:
                uri = ctx.file_write(name, spool)
            except (FileRefError, FileTooLarge) as error:
                return Result.failed(f"The download could not be stored: {error}", code="FILE_ERROR", outputs=outputs)
        return Result.success({"uri": uri, "filename": clean_path(name), **outputs, "size": size})
