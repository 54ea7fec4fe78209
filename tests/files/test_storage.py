"""The storage under the files app: names a file system can hold, directories that exist only
while they hold files, a directory never read as a file, downloads a browser will not run, and a
local replace that is seen whole or not at all."""

import errno
import io
import os
import stat
import tempfile

import pytest

from core import storage
from core.filerefs import FileRefError, FileTooLarge, clean_path, execution_file_key, namespace_file_key
from files.responses import content_type, file_response
from tests.config.test_settings import run
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


KEY = "production/_files/report.txt"


def _folder(file_storage) -> list[str]:
    return sorted(os.listdir(file_storage / "production" / "_files"))


def test_a_local_replace_is_never_seen_half_written(file_storage):
    """While the new content streams in, the file holds the old one whole; then the new one whole."""
    storage.put(KEY, b"old " * 1000)
    seen = []

    def chunks():
        for _ in range(3):
            yield b"new " * 1000
            with storage.open_file(KEY) as reader:
                seen.append(reader.read())

    assert storage.put(KEY, chunks()) == 12000
    assert seen == [b"old " * 1000] * 3
    assert storage.open_file(KEY).read() == b"new " * 3000
    assert _folder(file_storage) == ["report.txt"]  # no temporary file left beside it


def test_a_reader_of_the_old_file_keeps_reading_it_whole(file_storage):
    storage.put(KEY, b"a" * 5000)
    with storage.open_file(KEY) as reader:
        first = reader.read(10)
        storage.put(KEY, b"b" * 10)
        assert first + reader.read() == b"a" * 5000


@pytest.mark.parametrize("failure", ["too_large", "source_error"])
def test_a_failed_replace_leaves_the_old_file_and_no_temporary_one(settings, file_storage, failure):
    storage.put(KEY, b"the old report")
    settings.MILLRACE_MAX_FILE_BYTES = 20

    def chunks():
        yield b"0123456789"
        if failure == "source_error":
            raise OSError("the upload stream broke")
        yield b"0123456789" * 2

    with pytest.raises(FileTooLarge if failure == "too_large" else OSError):
        storage.put(KEY, chunks())
    assert storage.open_file(KEY).read() == b"the old report"
    assert _folder(file_storage) == ["report.txt"]


def test_a_stored_file_has_the_upload_permissions(settings, file_storage):
    storage.put(KEY, b"x")
    assert stat.S_IMODE(os.stat(file_storage / KEY).st_mode) == settings.FILE_UPLOAD_PERMISSIONS


def test_a_temporary_file_a_crash_left_is_not_listed_and_goes_with_its_directory(file_storage):
    storage.put("production/_files/dir/a.txt", b"a")
    descriptor, _ = tempfile.mkstemp(dir=file_storage / "production/_files/dir", prefix=storage.PARTIAL)
    os.close(descriptor)
    assert [entry.name for entry in storage.listing("production/_files/dir")] == ["a.txt"]
    assert list(storage.walk("production/_files")) == ["production/_files/dir/a.txt"]
    assert storage.delete_prefix("production/_files/dir") == 1
    assert not (file_storage / "production/_files/dir").exists()


def test_a_file_in_the_way_of_a_directory_is_refused_as_before(file_storage):
    storage.put("production/_files/a", b"a file")
    with pytest.raises(FileExistsError, match="not a directory"):
        storage.put("production/_files/a/b.txt", b"x")
    assert storage.open_file("production/_files/a").read() == b"a file"


DISK_REFUSES = """
import resource, signal, django
django.setup()
from core import storage
storage.put("production/_files/r.txt", b"the old report")
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
try:
    storage.put("production/_files/r.txt", b"n" * 5000)
except OSError as exc:
    print("refused", exc.errno)
"""


def test_a_write_the_disk_refuses_leaves_the_old_file_whole(tmp_path):
    """A real failed write (the file-size limit of the process, EFBIG): written in place, the file was
    left truncated to the first 1000 bytes of the new content."""
    root = tmp_path / "files"
    done = run(tmp_path, "-c", DISK_REFUSES, MILLRACE_STORAGE_DIR=str(root))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["refused", str(errno.EFBIG)]
    assert (root / "production/_files/r.txt").read_bytes() == b"the old report"
    assert os.listdir(root / "production/_files") == ["r.txt"]
