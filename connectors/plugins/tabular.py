"""`data.csv`: CSV text or files ↔ rows, with Python's csv module (quoting is never hand-made).

Files are streamed: a parse reads one record at a time and a format writes into a spooled
temporary file, so a large file costs memory only when its rows are asked for as a value, and
that value is bounded (`MAX_TEXT_CHARS`, as every text a step outputs): larger results go to a
file (`output: FILE`).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from connectors.plugins.data import MAX_TEXT_CHARS
from connectors.plugins.fileinput import CHECK_EVERY, FILE_ERRORS, check_running, file_failure, open_input
from connectors.registry import Plugin, PluginContext, Result, register
from core.filerefs import is_uri

INVALID_CSV = "INVALID_CSV"
CSV_TOO_LARGE = "CSV_TOO_LARGE"
#: The longest line read (a file is up to MILLRACE_MAX_FILE_BYTES; one line must not be held whole).
MAX_LINE_CHARS = 1024 * 1024
#: The first characters that make a spreadsheet read a cell as a formula (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_CHAR = {"type": "string", "minLength": 1, "maxLength": 1, "not": {"enum": ["\r", "\n"]}}


class CsvProblem(ValueError):
    """Input the plugin cannot turn into rows or CSV; the message says where and why."""

    def __init__(self, message: str, code: str = INVALID_CSV) -> None:
        super().__init__(message)
        self.code = code


class _ValueBudget:
    """Counts the characters of a result kept as a value, so it fails before it grows too large."""

    def __init__(self) -> None:
        self.used = 0

    def spend(self, chars: int) -> None:
        self.used += chars
        if self.used > MAX_TEXT_CHARS:
            raise CsvProblem(
                f"The result is larger than {MAX_TEXT_CHARS} characters: use `output: FILE` or `maxRows`.",
                CSV_TOO_LARGE,
            )


@register
class Csv(Plugin):
    id = "data.csv"
    takes_secrets = False  # the rows are the inputs reworked: masking could not find a secret in them
    name = "CSV"
    category = "data"
    description = "Parses CSV text or a CSV file into rows, or formats rows as CSV text or a CSV file."
    input_schema = {
        "type": "object",
        "properties": {
            "operation": {
                "enum": ["PARSE", "FORMAT", "parse", "format"],
                "description": "PARSE reads `from`, FORMAT writes `rows`; inferred from which of them is given.",
            },
            "from": {"type": "string", "description": "CSV text, or the millrace:/// URI of a CSV file (parse)."},
            "rows": {
                "type": "array",
                "items": {"type": ["object", "array"]},
                "description": "Rows to write: all objects, or all lists (format).",
            },
            "delimiter": {**_CHAR, "default": ",", "description": "The field separator, e.g. `;` or a tab."},
            "quote": {**_CHAR, "default": '"', "description": "The quoting character."},
            "header": {
                "type": "boolean",
                "default": True,
                "description": "Parse: the first row names the columns. Format: write a header row.",
            },
            "columns": {
                "type": "array",
                "items": {"type": "string"},
                "uniqueItems": True,
                "description": "Column names: parse uses them instead of a header; format writes these, in order.",
            },
            "skipRows": {
                "type": "integer",
                "minimum": 0,
                "maximum": 1_000_000,
                "default": 0,
                "description": "Records to skip before the header (parse).",
            },
            "maxRows": {"type": "integer", "minimum": 1, "description": "Read at most this many rows (parse)."},
            "encoding": {"type": "string", "default": "utf-8", "description": "The text encoding of a file (parse)."},
            "output": {
                "enum": ["VALUE", "FILE"],
                "default": "VALUE",
                "description": "VALUE outputs `rows` or `text`; FILE stores them and outputs `uri`.",
            },
            "fileName": {
                "type": "string",
                "minLength": 1,
                "maxLength": 255,
                "description": "The stored file's name (default data.csv, or rows.jsonl for a parse).",
            },
            "escapeFormulas": {
                "type": "boolean",
                "default": False,
                "description": "Format: prefix `'` to text cells starting with = + - @ (spreadsheet formulas).",
            },
        },
        "oneOf": [{"required": ["from"]}, {"required": ["rows"]}],
        "allOf": [
            {
                "if": {"required": ["operation"], "properties": {"operation": {"enum": ["PARSE", "parse"]}}},
                "then": {"required": ["from"]},
            },
            {
                "if": {"required": ["operation"], "properties": {"operation": {"enum": ["FORMAT", "format"]}}},
                "then": {"required": ["rows"]},
            },
        ],
    }
    output_schema = {
        "type": "object",
        "properties": {
            "rows": {
                "type": "array",
                "items": {"type": ["object", "array"]},
                "description": "Parse with `output: VALUE`: objects keyed by column, or lists without names.",
            },
            "columns": {
                "type": ["array", "null"],
                "items": {"type": "string"},
                "description": "The column names (null when rows are lists without names).",
            },
            "size": {"type": "integer", "minimum": 0, "description": "How many rows were read or written."},
            "text": {"type": "string", "description": "Format with `output: VALUE`: the CSV text."},
            "uri": {"type": "string", "description": "With `output: FILE`: the stored file's millrace:/// URI."},
        },
        "required": ["size", "columns"],
    }
    documentation = """\
Reads CSV into rows or writes rows as CSV, using Python's `csv` module (quotes, embedded
delimiters and line breaks are handled as spreadsheets write them). `operation` (`PARSE` or
`FORMAT`) may be left out: giving `from` parses, giving `rows` formats.

**Parse** (`from` given): `from` is CSV text or the `millrace:///` URI of a file of the flow's
namespace (an uploaded input, a namespace file, another task's output file). A file is read as
a stream in `encoding` (default `utf-8`; a byte-order mark is dropped).

- `header` (default true): the first row names the columns and each row becomes an object.
  With `header: false`, rows are lists, or objects when `columns` names them.
- `columns`: names to use instead of the header's. With `header: true` the first row is still
  read as the header and skipped; for a file without one, set `header: false`.
- `skipRows`: records to skip before the header (a title line, say). Blank lines are ignored.
- `maxRows`: stop after this many rows.
- `delimiter` (default `,`) and `quote` (default `"`): one character each.
- `output`: `VALUE` outputs `rows`; `FILE` stores the rows as a JSON-lines file (`fileName`,
  default `rows.jsonl`) and outputs its `uri`, for results too large to pass as a value.

Every value is text: convert numbers where you use them. A row whose number of fields differs
from the header's, malformed quoting, a field over 131,072 characters or a NUL character fails
the task with the row's line.

**Format** (`rows` given): `rows` are all objects or all lists. `columns` picks the columns
and their order (default: the keys of the objects, in the order first seen); `header` writes
them as the first row. `null` is written as an empty field, `true`/`false` as text, lists and
objects as JSON. `output: VALUE` outputs `text`; `FILE` stores it (`fileName`, default
`data.csv`) and outputs `uri`, e.g. for `mail.send` attachments.

**Spreadsheet formulas.** A cell starting with `=`, `+`, `-` or `@` is run as a formula by
Excel or LibreOffice when the file is opened. When rows come from outside (a form, an API), set
`escapeFormulas: true`: such text cells get a leading `'`, which spreadsheets show as text.

Outputs: `rows` (parse to a value), `text` (format to a value), `uri` (to a file), `size` (the
number of rows) and `columns`. A value result is limited to 1,000,000 characters.
"""
    example = """\
- name: orders
  type: data.csv
  properties:
    from: |
      id,customer,total
      1,Ada,30.50
      2,Grace,12.00
    header: true
"""

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        delimiter, quote = inputs.get("delimiter", ","), inputs.get("quote", '"')
        if delimiter == quote:
            return Result.failed("The delimiter and the quote must be different characters.", code="INVALID_INPUT")
        try:
            if "rows" in inputs:
                return _format(inputs, ctx, delimiter, quote)
            return _parse(inputs, ctx, delimiter, quote)
        except FILE_ERRORS as error:
            return file_failure(error, inputs.get("from"))
        except CsvProblem as error:
            return Result.failed(str(error), code=error.code)


# --- parse -----------------------------------------------------------------------------------


def _source(inputs: dict[str, Any], ctx: PluginContext) -> IO[str]:
    source = inputs["from"]
    if not is_uri(source):
        return io.StringIO(source, newline="")
    encoding = inputs.get("encoding", "utf-8")
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise CsvProblem(f"'{encoding}' is not a text encoding.") from None
    binary = open_input(ctx, source)
    return io.TextIOWrapper(binary, encoding="utf-8-sig" if codec == "utf-8" else codec, newline="")


def _lines(stream: IO[str]) -> Iterator[str]:
    """The stream's lines, refusing one longer than MAX_LINE_CHARS before it is read whole."""
    while line := stream.readline(MAX_LINE_CHARS + 1):
        if len(line) > MAX_LINE_CHARS:
            raise CsvProblem(f"A line is longer than {MAX_LINE_CHARS} characters.")
        yield line


def _records(stream: IO[str], delimiter: str, quote: str, ctx: PluginContext) -> Iterator[tuple[int, list[str]]]:
    """(line, fields) of each non-blank record, every error told with its line."""
    reader = csv.reader(_lines(stream), delimiter=delimiter, quotechar=quote, strict=True)
    count = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise CsvProblem(f"Malformed CSV at line {reader.line_num}: {error}.") from None
        except UnicodeDecodeError as error:
            raise CsvProblem(f"The file is not {stream.encoding.removesuffix('-sig')} text: {error.reason}.") from None
        count += 1
        if count % CHECK_EVERY == 0:
            check_running(ctx)
        if not record:
            continue
        if any("\x00" in field for field in record):
            raise CsvProblem(f"Malformed CSV at line {reader.line_num}: a NUL character.")
        yield reader.line_num, record


def _names(inputs: dict[str, Any], records: Iterator[tuple[int, list[str]]]) -> list[str] | None:
    header = inputs.get("header", True)
    first = next(records, None) if header else None
    names = inputs.get("columns") or (first[1] if first else None)
    if names is None:
        return None
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise CsvProblem(f"The column '{name}' appears twice in the header.")
        seen.add(name)
    return list(names)


def _rows(
    inputs: dict[str, Any], ctx: PluginContext, stream: IO[str], delimiter: str, quote: str
) -> tuple[list[str] | None, Iterator[dict[str, str] | list[str]]]:
    """(column names, an iterator of the rows)."""
    records = _records(stream, delimiter, quote, ctx)
    for _ in range(inputs.get("skipRows", 0)):
        if next(records, None) is None:
            break
    names = _names(inputs, records)

    def rows() -> Iterator[dict[str, str] | list[str]]:
        for count, (line, record) in enumerate(records):
            if count == inputs.get("maxRows"):
                return
            if names is None:
                yield record
            elif len(record) != len(names):
                raise CsvProblem(f"The row at line {line} has {len(record)} fields; there are {len(names)} columns.")
            else:
                yield dict(zip(names, record, strict=True))

    return names, rows()


def _parse(inputs: dict[str, Any], ctx: PluginContext, delimiter: str, quote: str) -> Result:
    with _source(inputs, ctx) as stream:
        names, rows = _rows(inputs, ctx, stream, delimiter, quote)
        if inputs.get("output") == "FILE":
            with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as spool:
                size = 0
                for row in rows:
                    spool.write(json.dumps(row, ensure_ascii=False).encode() + b"\n")
                    size += 1
                spool.seek(0)
                uri = ctx.file_write(inputs.get("fileName", "rows.jsonl"), spool)
            return Result.success({"uri": uri, "size": size, "columns": names})
        budget, kept = _ValueBudget(), []
        for row in rows:
            values = row.values() if isinstance(row, dict) else row
            budget.spend(sum(len(value) + 4 for value in values) + (len(names) * 4 if names else 0))
            kept.append(row)
    return Result.success({"rows": kept, "size": len(kept), "columns": names})


# --- format ----------------------------------------------------------------------------------


def _cell(value: Any, escape_formulas: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        return f"'{value}" if escape_formulas and value.startswith(FORMULA_STARTS) else value
    return str(value)


def _table(inputs: dict[str, Any]) -> tuple[list[str] | None, Iterator[list[Any]]]:
    """The column names to write (None: no header) and each row's values in their order."""
    rows: list[Any] = inputs["rows"]
    if all(isinstance(row, dict) for row in rows):
        columns = inputs.get("columns") or list(dict.fromkeys(key for row in rows for key in row))
        return columns, ([row.get(name) for name in columns] for row in rows)
    if all(isinstance(row, list) for row in rows):
        return inputs.get("columns"), iter(rows)
    raise CsvProblem("The rows must be all objects or all lists.")


def _format(inputs: dict[str, Any], ctx: PluginContext, delimiter: str, quote: str) -> Result:
    columns, values = _table(inputs)
    escape = inputs.get("escapeFormulas", False)
    with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as spool:
        text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
        writer = csv.writer(text, delimiter=delimiter, quotechar=quote)
        if columns and inputs.get("header", True):
            writer.writerow([_cell(name, escape) for name in columns])
        budget = _ValueBudget() if inputs.get("output") != "FILE" else None
        size = 0
        for size, row in enumerate(values, start=1):
            cells = [_cell(value, escape) for value in row]
            if budget:
                budget.spend(sum(len(cell) + 3 for cell in cells))
            if size % CHECK_EVERY == 0:
                check_running(ctx)
            writer.writerow(cells)
        text.flush()
        spool.seek(0)
        if budget is None:
            uri = ctx.file_write(inputs.get("fileName", "data.csv"), spool)
            return Result.success({"uri": uri, "size": size, "columns": columns})
        return Result.success({"text": spool.read().decode(), "size": size, "columns": columns})
