"""`file.write`, `file.concat`, `file.size`, `file.delete`: Kestra's storage tasks, through the context."""

from __future__ import annotations

import json
import uuid

import pytest

from connectors.registry import ResultStatus
from core import storage
from core.filerefs import uri

from .conftest import FakeContext, RunPlugin


def stored(file_uri: str) -> bytes:
    return storage.open_file(file_uri.removeprefix("millrace:///")).read()


def test_write_stores_text_under_the_step_and_outputs_its_uri_and_size(run_plugin: RunPlugin, ctx: FakeContext):
    result = run_plugin("file.write", {"content": "héllo", "fileName": "out/greeting.txt"})
    assert result.outputs == {"uri": f"millrace:///{ctx.write_prefix}/out/greeting.txt", "size": 6}
    assert stored(result.outputs["uri"]) == "héllo".encode()


def test_write_names_the_file_after_the_task_and_writes_values_as_json(run_plugin: RunPlugin, ctx: FakeContext):
    ctx.task_name = "daily report"
    result = run_plugin("file.write", {"content": {"rows": [1, 2]}, "extension": "json"})
    assert result.outputs["uri"].endswith("/daily_report.json")
    assert json.loads(stored(result.outputs["uri"])) == {"rows": [1, 2]}
    assert run_plugin("file.write", {"content": 3}).outputs["uri"].endswith("/daily_report.txt")


@pytest.mark.parametrize("name", ["../escape.txt", "a/../../b.txt", "a\\b.txt", "bad\x00name"])
def test_write_refuses_a_path_that_could_leave_its_place(run_plugin: RunPlugin, name: str):
    result = run_plugin("file.write", {"content": "x", "fileName": name})
    assert result.status == ResultStatus.FAILED and result.error_code == "INVALID_INPUT"
    assert not list(storage.walk("production"))


def test_write_over_the_size_limit_fails_and_keeps_nothing(run_plugin: RunPlugin, settings):
    settings.MILLRACE_MAX_FILE_BYTES = 10
    result = run_plugin("file.write", {"content": "x" * 11})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "FILE_TOO_LARGE")
    assert not list(storage.walk("production"))


def test_write_outside_a_flow_is_refused(run_plugin: RunPlugin):
    result = run_plugin("file.write", {"content": "x"}, FakeContext(write_prefix=None))
    assert result.status == ResultStatus.FAILED and "only be written by a flow's tasks" in result.error


def test_concat_joins_files_in_order_with_a_separator(run_plugin: RunPlugin):
    one = run_plugin("file.write", {"content": "a,b", "fileName": "one.csv"}).outputs["uri"]
    two = run_plugin("file.write", {"content": "c,d", "fileName": "two.csv"}).outputs["uri"]
    result = run_plugin("file.concat", {"files": [one, two, one], "separator": "\n", "fileName": "all.csv"})
    assert result.status == ResultStatus.SUCCESS
    assert stored(result.outputs["uri"]) == b"a,b\nc,d\na,b" and result.outputs["size"] == 11
    as_text = run_plugin("file.concat", {"files": json.dumps([two, one])})
    assert stored(as_text.outputs["uri"]) == b"c,da,b"


def test_concat_of_a_missing_or_foreign_file_fails_as_missing_and_writes_nothing(run_plugin: RunPlugin):
    one = run_plugin("file.write", {"content": "a", "fileName": "one.txt"}).outputs["uri"]
    foreign = f"millrace:///finance/executions/{uuid.uuid4()}/tasks/x/secret.txt"
    storage.put(foreign.removeprefix("millrace:///"), b"theirs")
    before = set(storage.walk("production"))
    for other in (foreign, one.replace("one.txt", "nothing.txt")):
        result = run_plugin("file.concat", {"files": [one, other], "fileName": "joined.txt"})
        assert (result.status, result.error_code) == (ResultStatus.FAILED, "FILE_NOT_FOUND")
        assert result.error == f"There is no file {other} in this namespace."
    assert set(storage.walk("production")) == before


@pytest.mark.parametrize("files", ['"not json', '["a", 1]', "[]", '{"a": 1}', '["millrace:///production/../x"]'])
def test_concat_refuses_bad_file_lists(run_plugin: RunPlugin, files: str):
    result = run_plugin("file.concat", {"files": files})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "INVALID_INPUT")


def test_size_measures_a_file_of_the_namespace(run_plugin: RunPlugin):
    written = run_plugin("file.write", {"content": "12345"}).outputs["uri"]
    assert run_plugin("file.size", {"uri": written}).outputs == {"uri": written, "size": 5}
    namespace_file = uri("production/_files/data/ref.csv")
    storage.put("production/_files/data/ref.csv", b"abc")
    assert run_plugin("file.size", {"uri": namespace_file}).outputs["size"] == 3


@pytest.mark.parametrize(
    ("target", "code"),
    [
        ("millrace:///finance/_files/ref.csv", "FILE_NOT_FOUND"),
        ("millrace:///production/_files/missing.csv", "FILE_NOT_FOUND"),
        ("millrace:///production/_files/../../finance/_files/ref.csv", "INVALID_INPUT"),
    ],
    ids=["other-namespace", "missing", "dot-dot"],
)
def test_size_of_a_foreign_missing_or_escaping_uri_fails(run_plugin: RunPlugin, target: str, code: str):
    storage.put("finance/_files/ref.csv", b"theirs")
    result = run_plugin("file.size", {"uri": target})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, code)
    assert "theirs" not in result.error


def test_delete_removes_a_file_of_the_execution(run_plugin: RunPlugin, ctx: FakeContext):
    written = run_plugin("file.write", {"content": "scratch"}).outputs["uri"]
    assert run_plugin("file.delete", {"uri": written}).outputs == {"uri": written, "deleted": True}
    assert not storage.exists(written.removeprefix("millrace:///"))
    assert run_plugin("file.delete", {"uri": written}).outputs == {"uri": written, "deleted": False}
    missing = run_plugin("file.delete", {"uri": written, "errorOnMissing": True})
    assert (missing.status, missing.error_code) == (ResultStatus.FAILED, "FILE_NOT_FOUND")


def test_delete_leaves_other_executions_namespace_files_and_other_namespaces_alone(run_plugin: RunPlugin):
    others = [
        f"production/executions/{uuid.uuid4()}/tasks/t/kept.txt",  # another execution of the namespace
        "production/_files/kept.txt",  # a namespace file
        f"finance/executions/{uuid.uuid4()}/tasks/t/kept.txt",  # another namespace
    ]
    for key in others:
        storage.put(key, b"kept")
        quiet = run_plugin("file.delete", {"uri": uri(key)})
        assert quiet.outputs == {"uri": uri(key), "deleted": False}  # as a missing file answers
        loud = run_plugin("file.delete", {"uri": uri(key), "errorOnMissing": True})
        assert (loud.status, loud.error_code) == (ResultStatus.FAILED, "FILE_NOT_FOUND")
        assert loud.error == f"There is no file {uri(key)} in this namespace."
    assert all(storage.exists(key) for key in others)


def test_delete_refuses_a_path_with_dot_dot(run_plugin: RunPlugin, ctx: FakeContext):
    storage.put("production/_files/kept.txt", b"kept")
    result = run_plugin("file.delete", {"uri": f"millrace:///{ctx.write_prefix}/../../../../_files/kept.txt"})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "INVALID_INPUT")
    assert storage.exists("production/_files/kept.txt")


def test_purge_deletes_every_file_of_the_execution_and_nothing_else(run_plugin: RunPlugin, ctx: FakeContext):
    written = [run_plugin("file.write", {"content": "x", "fileName": name}).outputs["uri"] for name in ("a", "b/c")]
    upload = f"{ctx.delete_prefix}/inputs/data.csv"  # a FILE input of the execution
    storage.put(upload, b"input")
    kept = [f"production/executions/{uuid.uuid4()}/tasks/t/kept.txt", "production/_files/kept.txt"]
    for key in kept:
        storage.put(key, b"kept")
    assert sorted(run_plugin("file.purge", {}).outputs["uris"]) == sorted([*written, uri(upload)])
    assert not list(storage.walk(ctx.delete_prefix))
    assert all(storage.exists(key) for key in kept)
    assert run_plugin("file.purge", {}).outputs == {"uris": []}
    assert run_plugin("file.purge", {}, FakeContext(write_prefix=None)).outputs == {"uris": []}


def test_split_cuts_a_file_into_parts_of_lines_that_join_back(run_plugin: RunPlugin, ctx: FakeContext):
    ctx.task_name = "batches"
    source = run_plugin("file.write", {"content": "1\n2\n3\n4\n5", "fileName": "rows.csv"}).outputs["uri"]
    uris = run_plugin("file.split", {"from": source, "lines": 2}).outputs["uris"]
    assert [stored(part) for part in uris] == [b"1\n2\n", b"3\n4\n", b"5"]
    assert [part.rsplit("/", 1)[-1] for part in uris] == ["batches_0001.csv", "batches_0002.csv", "batches_0003.csv"]
    custom = run_plugin("file.write", {"content": "a;;b;;c;;", "fileName": "x"}).outputs["uri"]
    parts = run_plugin("file.split", {"from": custom, "lines": 1, "separator": ";;"}).outputs["uris"]
    assert [stored(part) for part in parts] == [b"a;;", b"b;;", b"c;;"] and parts[0].endswith("_0001.txt")
    empty = run_plugin("file.write", {"content": "", "fileName": "empty.txt"}).outputs["uri"]
    assert run_plugin("file.split", {"from": empty, "lines": 5}).outputs == {"uris": []}


def test_split_reads_a_separator_across_chunks(run_plugin: RunPlugin, monkeypatch):
    monkeypatch.setattr("connectors.plugins.fileops.CHUNK", 3)
    source = run_plugin("file.write", {"content": "ab||cd||ef", "fileName": "rows.txt"}).outputs["uri"]
    parts = run_plugin("file.split", {"from": source, "lines": 1, "separator": "||"}).outputs["uris"]
    assert [stored(part) for part in parts] == [b"ab||", b"cd||", b"ef"]


def test_split_into_too_many_parts_fails_and_keeps_none(run_plugin: RunPlugin, monkeypatch):
    monkeypatch.setattr("connectors.plugins.fileops.MAX_PARTS", 2)
    source = run_plugin("file.write", {"content": "1\n2\n3\n", "fileName": "rows.txt"}).outputs["uri"]
    before = set(storage.walk("production"))
    result = run_plugin("file.split", {"from": source, "lines": 1})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "INVALID_INPUT")
    assert "more than 2 parts" in result.error
    assert set(storage.walk("production")) == before


def test_split_of_a_foreign_file_fails_as_missing(run_plugin: RunPlugin):
    storage.put("finance/_files/rows.csv", b"1\n2\n")
    result = run_plugin("file.split", {"from": "millrace:///finance/_files/rows.csv", "lines": 1})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "FILE_NOT_FOUND")
    assert not list(storage.walk("production"))
