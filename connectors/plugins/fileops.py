"""File plugins: write, concatenate, measure and delete `millrace:///` files of a flow.

They are Kestra's internal-storage tasks (`io.kestra.plugin.core.storage.Write`, `Concat`,
`Size`, `Delete`, `PurgeCurrentExecutionFiles`, their aliases) with the same property and output names, so
`{{ outputs.<task>.uri }}` reads the same. Everything goes through the run context: files are
read in the step's namespace only, written under the step, deleted only when they are the
execution's own (any other URI is a missing file), and paths are checked by `core.filerefs`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from connectors.plugins.fileinput import FILE_ERRORS, INVALID_INPUT, check_running, file_failure, open_input
from connectors.registry import Plugin, PluginContext, Result, register
from core.filerefs import PREFIX

_KESTRA = "io.kestra.plugin.core.storage"
CHUNK = 1024 * 1024
MAX_FILES = 1000
URI = {"type": "string", "pattern": f"^{PREFIX}", "description": "A millrace:/// URI of a file of the namespace."}
FILE_NAME = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "description": "The stored file's name (a relative path; no `..`). Default: the task's name and `extension`.",
}
EXTENSION = {
    "type": "string",
    "pattern": r"^\.?[A-Za-z0-9_-]{1,20}$",
    "default": ".txt",
    "description": "The extension of the default file name (`.txt`).",
}
WRITTEN = {
    "type": "object",
    "properties": {
        "uri": {"type": "string", "description": "The millrace:/// URI of the written file."},
        "size": {"type": "integer", "minimum": 0, "description": "Its size in bytes."},
    },
    "required": ["uri", "size"],
}


def _name(inputs: dict[str, Any], ctx: PluginContext) -> str:
    """`fileName`, else the task's name (letters, digits, `.`, `_`, `-`) with the extension."""
    if "fileName" in inputs:
        return inputs["fileName"]
    extension = inputs.get("extension", ".txt")
    base = re.sub(r"[^\w.-]", "_", ctx.task_name).strip(".")[:100] or "file"
    return f"{base}.{extension.lstrip('.')}"


def _written(ctx: PluginContext, uri: str) -> Result:
    return Result.success({"uri": uri, "size": ctx.file_size(uri)})


@register
class FileWrite(Plugin):
    id = "file.write"
    takes_secrets = False  # the file is read back in clear, where masking cannot reach
    name = "Write a file"
    category = "file"
    description = "Writes text (or a value as JSON) to a file of the execution; outputs its `uri`."
    aliases = (f"{_KESTRA}.Write",)
    input_schema = {
        "type": "object",
        "properties": {
            "content": {"description": "The text to write; any other value is written as JSON."},
            "fileName": FILE_NAME,
            "extension": EXTENSION,
        },
        "required": ["content"],
    }
    output_schema = WRITTEN
    documentation = """\
Writes a file for the tasks after it, as Kestra's `io.kestra.plugin.core.storage.Write`: a
report built from earlier outputs, a request body, the input of `data.csv` or `mail.send`.

- `content`: the text to write (UTF-8). A value that is not text (an object, a list, a number)
  is written as JSON.
- `fileName`: the file's name, a relative path such as `reports/daily.json` (`..`, backslashes
  and control characters are refused). Default: the task's name with `extension`.
- `extension`: the extension of that default name (`.txt` by default; Kestra writes `.ion`).

Outputs `uri` (`{{ outputs.<task>.uri }}`) and `size` in bytes. The file belongs to the
execution and is deleted with it; it may be at most `MILLRACE_MAX_FILE_BYTES`. Secrets cannot
be written: the file is read back in clear.
"""
    example = """\
- name: greeting
  type: file.write
  properties:
    content: "Hello from {{ execution.flow }}"
    fileName: greeting.txt
"""

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        content = inputs["content"]
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        try:
            return _written(ctx, ctx.file_write(_name(inputs, ctx), text))
        except FILE_ERRORS as error:
            return file_failure(error)


@register
class FileConcat(Plugin):
    id = "file.concat"
    takes_secrets = False  # a separator is written into the file in clear
    name = "Concatenate files"
    category = "file"
    description = "Joins files of the namespace, in order, into one new file; outputs its `uri`."
    aliases = (f"{_KESTRA}.Concat",)
    input_schema = {
        "type": "object",
        "properties": {
            "files": {
                "type": ["array", "string"],
                "items": URI,
                "minItems": 1,
                "maxItems": MAX_FILES,
                "description": "The URIs to join, in order: a list, or the JSON text of one.",
            },
            "separator": {"type": "string", "maxLength": 1000, "description": "Written between two files."},
            "fileName": FILE_NAME,
            "extension": EXTENSION,
        },
        "required": ["files"],
    }
    output_schema = WRITTEN
    documentation = f"""\
Joins files into one, in the order given, as Kestra's `io.kestra.plugin.core.storage.Concat`:
the parts a loop downloaded, the CSV pieces of several queries. The files stream through, never
whole into memory.

- `files`: the `millrace:///` URIs to join (1 to {MAX_FILES}), a list or the JSON text of one
  (`"{{{{ outputs.parts.uris | tojson }}}}"`). Each is a file of the flow's namespace; a missing
  one, or one of another namespace, fails the step.
- `separator`: text written between two files (none by default; `"\\n"` for a line break).
- `fileName`, `extension`: the new file's name, as for `file.write`.

Outputs `uri` and `size` of the joined file.
"""
    example = """\
- name: part-one
  type: file.write
  properties: {content: "a,b", fileName: one.csv}
- name: part-two
  type: file.write
  properties: {content: "c,d", fileName: two.csv}
- name: joined
  type: file.concat
  properties:
    files: ["{{ outputs['part-one'].uri }}", "{{ outputs['part-two'].uri }}"]
    separator: "\\n"
    fileName: all.csv
"""

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        files = inputs["files"]
        if isinstance(files, str):
            try:
                files = json.loads(files)
            except ValueError:
                files = None
            if not (isinstance(files, list) and files and all(isinstance(uri, str) for uri in files)):
                return Result.failed("files must be a list of millrace:/// URIs, or its JSON text.", code=INVALID_INPUT)
            if len(files) > MAX_FILES:
                return Result.failed(f"At most {MAX_FILES} files can be joined.", code=INVALID_INPUT)
        separator = inputs.get("separator", "").encode()
        current: list[str] = []
        try:
            return _written(ctx, ctx.file_write(_name(inputs, ctx), _joined(ctx, files, separator, current)))
        except FILE_ERRORS as error:
            return file_failure(error, current[-1] if current else None)


def _joined(ctx: PluginContext, files: list[str], separator: bytes, current: list[str]) -> Iterator[bytes]:
    """The files' bytes one chunk at a time, `separator` between two; `current` names the one read."""
    for index, uri in enumerate(files):
        current.append(uri)
        if index and separator:
            yield separator
        with open_input(ctx, uri) as stream:
            while chunk := stream.read(CHUNK):
                check_running(ctx)
                yield chunk


@register
class FileSize(Plugin):
    id = "file.size"
    name = "File size"
    category = "file"
    description = "The size in bytes of a file of the namespace."
    aliases = (f"{_KESTRA}.Size",)
    input_schema = {"type": "object", "properties": {"uri": URI}, "required": ["uri"]}
    output_schema = {
        "type": "object",
        "properties": {"uri": {"type": "string"}, "size": {"type": "integer", "minimum": 0}},
        "required": ["uri", "size"],
    }
    documentation = """\
Measures a file, as Kestra's `io.kestra.plugin.core.storage.Size`: to skip an empty export,
or to choose between attaching a file and linking to it.

- `uri`: the `millrace:///` URI of a file of the flow's namespace. A missing file, or one of
  another namespace, fails the step.

Outputs `size` (bytes) and `uri`.
"""
    example = """\
- name: report
  type: file.write
  properties: {content: "12 orders", fileName: report.txt}
- name: report-size
  type: file.size
  properties:
    uri: "{{ outputs.report.uri }}"
"""

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        uri = inputs["uri"]
        try:
            return Result.success({"uri": uri, "size": ctx.file_size(uri)})
        except FILE_ERRORS as error:
            return file_failure(error, uri)


@register
class FileDelete(Plugin):
    id = "file.delete"
    name = "Delete a file"
    category = "file"
    description = "Deletes a file of the execution; `deleted` says whether there was one."
    aliases = (f"{_KESTRA}.Delete",)
    input_schema = {
        "type": "object",
        "properties": {
            "uri": URI,
            "errorOnMissing": {
                "type": "boolean",
                "default": False,
                "description": "Fail when there is no such file (default: succeed with deleted false).",
            },
        },
        "required": ["uri"],
    }
    output_schema = {
        "type": "object",
        "properties": {"uri": {"type": "string"}, "deleted": {"type": "boolean"}},
        "required": ["uri", "deleted"],
    }
    documentation = """\
Deletes a file before the execution ends, as Kestra's `io.kestra.plugin.core.storage.Delete`:
an intermediate file with personal data, a large part already joined.

- `uri`: the `millrace:///` URI of a file of this execution (its inputs and what its tasks
  wrote). A file of another execution, a namespace file or a file of another namespace is
  never deleted: it is answered as a missing file.
- `errorOnMissing`: fail the step when there is no such file (default `false`: the step
  succeeds with `deleted: false`).

Outputs `uri` and `deleted`.
"""
    example = """\
- name: scratch
  type: file.write
  properties: {content: temporary, fileName: scratch.txt}
- name: tidy
  type: file.delete
  properties:
    uri: "{{ outputs.scratch.uri }}"
    errorOnMissing: true
"""

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        uri = inputs["uri"]
        try:
            deleted = ctx.file_delete(uri)
        except FileNotFoundError:
            deleted = False
        except FILE_ERRORS as error:
            return file_failure(error, uri)
        if not deleted and inputs.get("errorOnMissing", False):
            return file_failure(FileNotFoundError(uri), uri)
        return Result.success({"uri": uri, "deleted": deleted})


@register
class FilePurge(Plugin):
    id = "file.purge"
    name = "Delete the execution's files"
    category = "file"
    description = "Deletes every file of the running execution; outputs their `uris`."
    aliases = (f"{_KESTRA}.PurgeCurrentExecutionFiles",)
    input_schema = {"type": "object", "properties": {}, "additionalProperties": False}
    output_schema = {
        "type": "object",
        "properties": {"uris": {"type": "array", "items": {"type": "string"}, "description": "The files deleted."}},
        "required": ["uris"],
    }
    documentation = """\
Deletes every file of the execution that runs it (its FILE inputs and what its tasks wrote so
far), as Kestra's `io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles`: typically the
last task of a flow handling personal data, or one of its `finally` tasks. Namespace files and
other executions' files are not touched. It takes no inputs.

Outputs `uris`: the files deleted. A later task given one of them finds no file.
"""
    example = """\
- name: scratch
  type: file.write
  properties: {content: temporary, fileName: scratch.txt}
- name: purge
  type: file.purge
"""

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        return Result.success({"uris": ctx.file_purge()})


MAX_PARTS = 1000


@register
class FileSplit(Plugin):
    id = "file.split"
    name = "Split a file"
    category = "file"
    description = "Splits a file into parts of a number of lines each; outputs their `uris`, in order."
    aliases = (f"{_KESTRA}.Split",)
    input_schema = {
        "type": "object",
        "properties": {
            "from": URI,
            "lines": {"type": "integer", "minimum": 1, "description": "Lines in each part (the last may have fewer)."},
            "separator": {
                "type": "string",
                "minLength": 1,
                "maxLength": 16,
                "default": "\n",
                "description": "What ends a line (a line break by default).",
            },
        },
        "required": ["from", "lines"],
    }
    output_schema = {
        "type": "object",
        "properties": {"uris": {"type": "array", "items": {"type": "string"}, "description": "The parts, in order."}},
        "required": ["uris"],
    }
    documentation = f"""\
Splits a file into parts of a number of lines each, as Kestra's
`io.kestra.plugin.core.storage.Split` with `lines` (or `rows`): to send a large export in
batches, or to process it with `flow.forEach` over `{{{{ outputs.<task>.uris }}}}`.

- `from`: the `millrace:///` URI of a file of the flow's namespace.
- `lines`: how many lines each part holds; the last part holds the rest (Kestra's `rows`
  is read as `lines`).
- `separator`: what ends a line (a line break by default). Each part keeps its lines' bytes
  as they are, separators included, so joining the parts gives the file back.

Outputs `uris`, the parts in order (an empty file gives none). The file is read as a stream;
a part is held in memory while it is written. A split into more than {MAX_PARTS} parts fails
and keeps none of them. Kestra's `bytes` and `partitions` are not supported.
"""
    example = """\
- name: export
  type: file.write
  properties: {content: "a\\nb\\nc\\n", fileName: export.txt}
- name: batches
  type: file.split
  properties:
    from: "{{ outputs.export.uri }}"
    lines: 2
"""

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        source = inputs["from"]
        size = inputs["lines"]
        separator = inputs.get("separator", "\n").encode()
        base = re.sub(r"[^\w.-]", "_", ctx.task_name).strip(".")[:100] or "part"
        _, dot, extension = source.rsplit("/", 1)[-1].rpartition(".")
        suffix = re.sub(r"[^\w-]", "_", extension)[:20] if dot and extension else "txt"
        uris: list[str] = []
        try:
            with open_input(ctx, source) as stream:
                for part in _parts(ctx, stream, separator, size):
                    if len(uris) == MAX_PARTS:
                        raise _TooManyParts
                    uris.append(ctx.file_write(f"{base}_{len(uris) + 1:04d}.{suffix}", part))
        except _TooManyParts:
            _discard(ctx, uris)
            return Result.failed(
                f"The file splits into more than {MAX_PARTS} parts: give more lines per part.", code=INVALID_INPUT
            )
        except FILE_ERRORS as error:
            _discard(ctx, uris)
            return file_failure(error, source)
        return Result.success({"uris": uris})


class _TooManyParts(Exception):
    """A split past MAX_PARTS: its parts are deleted and the step fails."""


def _discard(ctx: PluginContext, uris: list[str]) -> None:
    for uri in uris:
        ctx.file_delete(uri)


def _parts(ctx: PluginContext, stream: Any, separator: bytes, size: int) -> Iterator[bytes]:
    """The file's bytes in parts of `size` lines (each ending with `separator`, but the last)."""
    part, lines, pending = bytearray(), 0, b""
    while chunk := stream.read(CHUNK):
        check_running(ctx)
        pending += chunk
        start = 0
        while (end := pending.find(separator, start)) >= 0:
            part += pending[start : end + len(separator)]
            start = end + len(separator)
            lines += 1
            if lines == size:
                yield bytes(part)
                part, lines = bytearray(), 0
        pending = pending[start:]
    part += pending
    if part:
        yield bytes(part)
