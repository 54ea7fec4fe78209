"""data.csv: parse text and files into rows, format rows as text and files, and every refusal."""

from __future__ import annotations

import csv
import io
import json
import uuid

import pytest

from connectors.plugins.data import MAX_TEXT_CHARS
from connectors.registry import InputError, ResultStatus, get_plugin
from core import storage
from core.filerefs import key_of

from .conftest import FakeContext, RunPlugin

ORDERS = 'id,customer,note\r\n1,Ada,"likes ""quotes"", commas"\r\n2,Grace,"two\nlines"\r\n'


def elsewhere() -> FakeContext:
    """A step of another namespace."""
    return FakeContext(namespace="elsewhere", write_prefix=f"elsewhere/executions/{uuid.uuid4()}/tasks/t")


def read(ctx: FakeContext, uri: str) -> bytes:
    with ctx.file_open(uri) as stream:
        return stream.read()


def test_parse_text_with_a_header_gives_objects(run_plugin: RunPlugin) -> None:
    result = run_plugin("data.csv", {"from": ORDERS})
    assert result.status == ResultStatus.SUCCESS, result.error
    assert result.outputs == {
        "rows": [
            {"id": "1", "customer": "Ada", "note": 'likes "quotes", commas'},
            {"id": "2", "customer": "Grace", "note": "two\nlines"},
        ],
        "size": 2,
        "columns": ["id", "customer", "note"],
    }


def test_parse_without_a_header_gives_lists_or_named_objects(run_plugin: RunPlugin) -> None:
    text = "a;b\n\nc;d\n"
    lists = run_plugin("data.csv", {"operation": "PARSE", "from": text, "header": False, "delimiter": ";"})
    assert lists.outputs == {"rows": [["a", "b"], ["c", "d"]], "size": 2, "columns": None}
    named = run_plugin("data.csv", {"from": text, "header": False, "delimiter": ";", "columns": ["x", "y"]})
    assert named.outputs["rows"] == [{"x": "a", "y": "b"}, {"x": "c", "y": "d"}]


def test_parse_skips_rows_stops_at_max_rows_and_renames_columns(run_plugin: RunPlugin) -> None:
    text = "Report of May\nid|name\n1|'a|b'\n2|c\n3|d\n"
    result = run_plugin(
        "data.csv",
        {"from": text, "skipRows": 1, "maxRows": 2, "delimiter": "|", "quote": "'", "columns": ["n", "who"]},
    )
    assert result.outputs == {
        "rows": [{"n": "1", "who": "a|b"}, {"n": "2", "who": "c"}],
        "size": 2,
        "columns": ["n", "who"],
    }
    assert run_plugin("data.csv", {"from": "", "header": True}).outputs == {"rows": [], "size": 0, "columns": None}


def test_parse_reads_a_stored_file_in_its_encoding(run_plugin: RunPlugin, ctx: FakeContext) -> None:
    uri = ctx.file_write("latin.csv", "name,city\r\nJosé,Zürich\r\n".encode("latin-1"))
    result = run_plugin("data.csv", {"from": uri, "encoding": "latin-1"})
    assert result.outputs["rows"] == [{"name": "José", "city": "Zürich"}]
    bom = ctx.file_write("bom.csv", "\ufeffname\r\nAda\r\n".encode())
    assert run_plugin("data.csv", {"from": bom}).outputs["rows"] == [{"name": "Ada"}]


def test_parse_to_a_file_writes_json_lines(run_plugin: RunPlugin, ctx: FakeContext) -> None:
    source = ctx.file_write("in.csv", "a,b\n" + "".join(f"{i},{i * 2}\n" for i in range(2500)))
    result = run_plugin("data.csv", {"from": source, "output": "FILE", "fileName": "out/rows.jsonl"})
    assert result.outputs["size"] == 2500 and set(result.outputs) == {"uri", "size", "columns"}
    assert result.outputs["uri"].endswith("/out/rows.jsonl")
    lines = read(ctx, result.outputs["uri"]).decode().splitlines()
    assert len(lines) == 2500 and json.loads(lines[-1]) == {"a": "2499", "b": "4998"}


def test_format_objects_to_text_round_trips(run_plugin: RunPlugin) -> None:
    rows = [
        {"id": 1, "note": 'a "quoted", text', "ok": True, "gone": None},
        {"id": 2.5, "note": "two\nlines", "extra": {"k": [1]}},
    ]
    result = run_plugin("data.csv", {"rows": rows})
    assert result.status == ResultStatus.SUCCESS, result.error
    assert result.outputs["columns"] == ["id", "note", "ok", "gone", "extra"] and result.outputs["size"] == 2
    parsed = list(csv.reader(io.StringIO(result.outputs["text"], newline="")))
    assert parsed == [
        ["id", "note", "ok", "gone", "extra"],
        ["1", 'a "quoted", text', "true", "", ""],
        ["2.5", "two\nlines", "", "", '{"k": [1]}'],
    ]
    back = run_plugin("data.csv", {"from": result.outputs["text"]}).outputs["rows"]
    assert back[0]["note"] == 'a "quoted", text' and back[1]["note"] == "two\nlines"


def test_format_lists_picks_columns_and_delimiter(run_plugin: RunPlugin) -> None:
    result = run_plugin("data.csv", {"rows": [[1, "a;b"], [2, None]], "columns": ["n", "v"], "delimiter": ";"})
    assert result.outputs["text"] == 'n;v\r\n1;"a;b"\r\n2;\r\n'
    picked = run_plugin("data.csv", {"rows": [{"a": 1, "b": 2}], "columns": ["b"], "header": False})
    assert picked.outputs == {"text": "2\r\n", "size": 1, "columns": ["b"]}
    assert run_plugin("data.csv", {"rows": [[1, 2]]}).outputs == {"text": "1,2\r\n", "size": 1, "columns": None}


def test_format_to_a_file_and_formula_escaping(run_plugin: RunPlugin, ctx: FakeContext) -> None:
    rows = [{"cell": '=HYPERLINK("http://evil")'}, {"cell": "+1"}, {"cell": "@SUM(A1)"}, {"cell": "plain"}]
    rows.append({"cell": -5})  # a number stays a number
    result = run_plugin("data.csv", {"rows": rows, "escapeFormulas": True, "output": "FILE"})
    assert result.outputs["uri"].endswith("/data.csv") and result.outputs["size"] == 5
    cells = [row[0] for row in csv.reader(io.StringIO(read(ctx, result.outputs["uri"]).decode(), newline=""))]
    assert cells == ["cell", '\'=HYPERLINK("http://evil")', "'+1", "'@SUM(A1)", "plain", "-5"]
    plain = run_plugin("data.csv", {"rows": rows[:1]}).outputs["text"]
    assert plain.splitlines()[1] == '"=HYPERLINK(""http://evil"")"'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param('a,b\n1,"x"y\n', "Malformed CSV at line 2", id="quote-then-text"),
        pytest.param('a,b\n1,"open\n', "Malformed CSV at line 2", id="unclosed-quote"),
        pytest.param("a,b\n1,2,3\n", "line 2 has 3 fields; there are 2 columns", id="long-row"),
        pytest.param("a,b\n1\n", "line 2 has 1 fields; there are 2 columns", id="short-row"),
        pytest.param("a,a\n1,2\n", "The column 'a' appears twice", id="duplicate-header"),
        pytest.param('a\n"' + "x" * 200_000 + '"\n', "field larger than field limit", id="huge-field"),
        pytest.param("a\nx\x00y\n", "a NUL character", id="nul"),
    ],
)
def test_malformed_csv_fails_with_its_line(run_plugin: RunPlugin, text: str, message: str) -> None:
    result = run_plugin("data.csv", {"from": text})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "INVALID_CSV")
    assert message in result.error


def test_oversize_input_and_results_fail_clearly(run_plugin: RunPlugin, ctx: FakeContext) -> None:
    long_line = ctx.file_write("long.csv", "a\n" + "x" * (1024 * 1024 + 10) + "\n")
    result = run_plugin("data.csv", {"from": long_line})
    assert result.error_code == "INVALID_CSV" and "longer than" in result.error
    big = ctx.file_write("big.csv", "a,b\n" + "x" * 1000 + "," + "y" * 1000 + "\n" * 1 + ("1,2\n" * 400_000))
    result = run_plugin("data.csv", {"from": big})
    assert result.error_code == "CSV_TOO_LARGE" and "output: FILE" in result.error
    assert run_plugin("data.csv", {"from": big, "maxRows": 10}).outputs["size"] == 10
    many = [{"a": "x" * 100}] * (MAX_TEXT_CHARS // 100)
    result = run_plugin("data.csv", {"rows": many})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "CSV_TOO_LARGE")


def test_file_failures(run_plugin: RunPlugin, ctx: FakeContext, settings) -> None:
    theirs = elsewhere().file_write("secret.csv", "a\n1\n")
    assert storage.exists(key_of(theirs, "elsewhere"))
    result = run_plugin("data.csv", {"from": theirs})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "FILE_NOT_FOUND")
    assert result.error == f"There is no file {theirs} in this namespace."
    missing = run_plugin("data.csv", {"from": "millrace:///production/executions/nope/x.csv"})
    assert missing.error_code == "FILE_NOT_FOUND"
    escape = run_plugin("data.csv", {"from": "millrace:///production/../elsewhere/x.csv"})
    assert escape.error_code == "INVALID_INPUT" and ".." in escape.error
    not_text = run_plugin("data.csv", {"from": ctx.file_write("bin.csv", b"a\n\xff\xfe\n")})
    assert not_text.error_code == "INVALID_CSV" and "not utf-8 text" in not_text.error
    unknown = run_plugin("data.csv", {"from": ctx.file_write("x.csv", b"a\n"), "encoding": "klingon"})
    assert unknown.error_code == "INVALID_CSV" and "'klingon' is not a text encoding" in unknown.error
    settings.MILLRACE_MAX_FILE_BYTES = 100
    too_big = run_plugin("data.csv", {"rows": [{"a": "x" * 50}] * 5, "output": "FILE"})
    assert too_big.error_code == "FILE_TOO_LARGE"


def test_a_step_without_a_file_place_cannot_write(run_plugin: RunPlugin) -> None:
    agent = FakeContext(write_prefix=None)
    result = run_plugin("data.csv", {"rows": [[1]], "output": "FILE"}, agent)
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "INVALID_INPUT")


def test_a_cancelled_step_stops_reading(run_plugin: RunPlugin, ctx: FakeContext) -> None:
    ctx.cancelled = True
    result = run_plugin("data.csv", {"from": "a\n" + "1\n" * 5000})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "STOPPED")


def test_mixed_rows_and_same_delimiter_and_quote_fail(run_plugin: RunPlugin) -> None:
    mixed = run_plugin("data.csv", {"rows": [{"a": 1}, [1]]})
    assert mixed.error_code == "INVALID_CSV" and "all objects or all lists" in mixed.error
    same = run_plugin("data.csv", {"from": "a", "delimiter": "'", "quote": "'"})
    assert same.error_code == "INVALID_INPUT"


@pytest.mark.parametrize(
    "inputs",
    [
        pytest.param({}, id="nothing"),
        pytest.param({"from": "a", "rows": []}, id="both"),
        pytest.param({"operation": "FORMAT", "from": "a"}, id="format-without-rows"),
        pytest.param({"operation": "PARSE", "rows": []}, id="parse-without-from"),
        pytest.param({"from": 5}, id="from-number"),
        pytest.param({"rows": [1, 2]}, id="scalar-rows"),
        pytest.param({"from": "a", "delimiter": ";;"}, id="long-delimiter"),
        pytest.param({"from": "a", "delimiter": "\n"}, id="newline-delimiter"),
        pytest.param({"from": "a", "maxRows": 0}, id="zero-max"),
        pytest.param({"from": "a", "skipRows": 10**12}, id="huge-skip"),
        pytest.param({"from": "a", "output": "DISK"}, id="output"),
        pytest.param({"from": "a", "header": "yes"}, id="header-text"),
    ],
)
def test_wrong_inputs_are_refused_by_the_schema(inputs: dict) -> None:
    with pytest.raises(InputError):
        get_plugin("data.csv").check_inputs(inputs)
