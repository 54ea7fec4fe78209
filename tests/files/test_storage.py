"""The storage under the files app: names a file system can hold, directories that exist only
while they hold files, a directory never read as a file, downloads a browser will not run."""

import io

import pytest

from core import storage
from core.filerefs import FileRefError, FileTooLarge, clean_path, execution_file_key, namespace_file_key
from files.responses import content_type, file_response
from tests.connectors.conftest import ctx  # noqa: F401  (a plugin context that stores files)


@pytest.mark.parametrize(
    "path",
    ["é" * 128, "a/" + "€" * 86, "bad\ud800name", "x" * 256],
    ids=["two-byte-name", "three-byte-name", "lone-surrogate", "256-ascii"],
)
def test_a_name_a_file_system_cannot_hold_is_refused(path):
    with pytest.raises(FileRefError):
        clean_path(path)


def test_names_of_255_bytes_are_kept(file_storage):
    path = clean_path("é" * 127 + "x")
    storage.put(f"production/_files/{path}", b"ok")
    assert storage.open_file(f"production/_files/{path}").read() == b"ok"


def test_a_deleted_file_leaves_no_empty_directory(file_storage):
    storage.put("ns/_files/a/b/c.txt", b"c")
    storage.put("ns/_files/keep.txt", b"k")
    assert storage.delete("ns/_files/a/b/c.txt")
    assert not (file_storage / "ns/_files/a").exists()
    assert [entry.name for entry in storage.listing("ns/_files")] == ["keep.txt"]
    assert storage.delete_prefix("ns/_files") == 1
    assert not (file_storage / "ns").exists()


def test_a_directory_is_not_a_file(file_storage):
    storage.put("ns/_files/dir/f.txt", b"f")
    assert not storage.exists("ns/_files/dir")
    with pytest.raises(FileNotFoundError):
        storage.open_file("ns/_files/dir")
    assert storage.delete("ns/_files/dir") is False
    assert storage.listing("ns/_files/dir/f.txt") == []  # the listing of a file: nothing under it
    assert storage.exists("ns/_files/dir/f.txt")


def test_a_file_over_the_cap_leaves_nothing(settings, file_storage):
    settings.MILLRACE_MAX_FILE_BYTES = 10
    with pytest.raises(FileTooLarge):
        storage.put("ns/_files/big.bin", io.BytesIO(b"x" * 11))
    assert list(storage.walk("ns")) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.py", "text/x-python"),
        ("a.json", "application/json"),
        ("a.png", "image/png"),
        ("a.svg", "application/octet-stream"),
        ("a.xhtml", "application/octet-stream"),
        ("a.js", "application/octet-stream"),
        ("a.tar.gz", "application/octet-stream"),
        ("Makefile", "application/octet-stream"),
    ],
    ids=["python", "json", "png", "svg", "xhtml", "javascript", "compressed", "unknown"],
)
def test_the_content_type_of_a_download(name, expected):
    assert content_type(name) == expected


def test_a_download_is_an_attachment_under_a_sandbox():
    response = file_response("naïve report.csv", io.BytesIO(b"a,b\r\n"))
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''na%C3%AFve%20report.csv"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Content-Length"] == "5"
    assert b"".join(response.streaming_content) == b"a,b\r\n"


def test_a_path_whose_key_s3_could_not_hold_is_refused(ctx):  # noqa: F811
    """Within the path limits, namespace and place added: over S3's key length is a refusal, not a 500."""
    deep = "/".join(["d" * 200] * 5) + "/f.txt"  # 1010 characters: a path clean_path accepts
    with pytest.raises(FileRefError, match="too long"):
        namespace_file_key("production", deep)
    with pytest.raises(FileRefError, match="too long"):
        execution_file_key("production", "ab12", deep)
    with pytest.raises(FileRefError, match="too long"):
        ctx.file_write(deep, b"x")
    assert namespace_file_key("production", "/".join(["d" * 200] * 3)).startswith("production/_files/")
