"""The working directory: input files placed safely, output files checked before any is kept."""

import io
import os
import re
from pathlib import Path

import pytest

from connectors.scripts.base import ScriptError
from connectors.scripts.workdir import (
    MAX_OUTPUT_FILES,
    check_globs,
    collect_outputs,
    make_root,
    place_files,
    remove_tree,
)
from core.filerefs import FileRefError


def refused(message: str):
    """Expect a ScriptError saying `message` (taken literally)."""
    return pytest.raises(ScriptError, match=re.escape(message))


def text(content: str):
    return lambda: io.BytesIO(content.encode())


@pytest.fixture
def work(tmp_path: Path) -> Path:
    directory = tmp_path / "work"
    directory.mkdir()
    return directory


class Store:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def __call__(self, name: str, content) -> str:
        self.files[name] = content.read()
        return f"millrace:///production/x/{name}"


def test_a_root_is_private_and_removed_whatever_is_inside(tmp_path: Path):
    root = make_root()
    assert (root / "work").is_dir() and oct(root.stat().st_mode & 0o777) == "0o700"
    locked = root / "work" / "a" / "b"
    locked.mkdir(parents=True)
    (locked / "file").write_text("x")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("kept")
    (root / "work" / "link").symlink_to(outside)
    os.chmod(root / "work" / "a", 0o000)
    remove_tree(root)
    assert not root.exists()
    assert (outside / "keep").read_text() == "kept"  # a link's target is left alone
    remove_tree(root)  # twice is fine


def test_input_files_are_placed_at_their_normalised_paths(work: Path):
    place_files(work, {"/a/b.py": text("print(1)"), "./c.txt": text("c"), "d//e": text("e")}, limit=100)
    assert (work / "a" / "b.py").read_text() == "print(1)"
    assert (work / "c.txt").read_text() == "c"
    assert (work / "d" / "e").read_text() == "e"


@pytest.mark.parametrize("name", ["../escape.txt", "a/../../b", "a/\x00b", "", "/", "x" * 256])
def test_input_file_names_that_could_escape_are_refused(work: Path, name: str):
    with pytest.raises(ScriptError, match="Input file"):
        place_files(work, {name: text("x")}, limit=100)
    assert list(work.parent.iterdir()) == [work]


def test_input_files_over_the_disk_limit_are_refused(work: Path):
    with pytest.raises(ScriptError, match=r"larger than the working directory's limit of 10 bytes"):
        place_files(work, {"a": text("123456"), "b": text("789012")}, limit=10)


def test_an_input_file_whose_stored_file_is_missing_is_named(work: Path):
    def missing():
        raise FileNotFoundError("millrace:///production/nope")

    with refused("Input file 'data.csv': the stored file it names was not found"):
        place_files(work, {"data.csv": missing}, limit=100)


def test_an_input_file_under_a_file_cannot_be_created(work: Path):
    with pytest.raises(ScriptError, match="Input file 'a/b' cannot be created"):
        place_files(work, {"a": text("x"), "a/b": text("y")}, limit=100)


def test_matching_outputs_are_stored_by_relative_path(work: Path):
    (work / "out").mkdir()
    (work / "out" / "r.csv").write_text("a,b")
    (work / "out" / "r.txt").write_text("no")
    (work / "top.csv").write_text("t")
    (work / "inside-link.csv").symlink_to(work / "top.csv")
    store = Store()
    stored = collect_outputs(work, ["**/*.csv"], store=store, max_bytes=100)
    assert stored == {name: f"millrace:///production/x/{name}" for name in ("inside-link.csv", "out/r.csv", "top.csv")}
    assert store.files == {"inside-link.csv": b"t", "out/r.csv": b"a,b", "top.csv": b"t"}


def test_no_globs_and_no_matches_keep_nothing(work: Path):
    (work / "a.txt").write_text("a")
    assert collect_outputs(work, [], store=Store(), max_bytes=100) == {}
    assert collect_outputs(work, ["*.csv"], store=Store(), max_bytes=100) == {}


@pytest.mark.parametrize("target", ["/etc/passwd", "../outside.txt"])
def test_a_link_out_of_the_working_directory_is_refused_and_nothing_is_kept(work: Path, target: str):
    (work.parent / "outside.txt").write_text("secret")
    (work / "a.txt").write_text("fine")
    (work / "b.txt").symlink_to(target)
    store = Store()
    with refused("Output file 'b.txt' points outside the working directory"):
        collect_outputs(work, ["*.txt"], store=store, max_bytes=100)
    assert store.files == {}


def test_a_directory_link_out_of_the_working_directory_is_refused(work: Path):
    (work / "etc").symlink_to("/etc")
    with pytest.raises(ScriptError, match="Output file 'etc' points outside"):
        collect_outputs(work, ["**"], store=Store(), max_bytes=100)


def test_a_file_over_the_size_cap_is_refused(work: Path):
    (work / "big.bin").write_bytes(b"x" * 101)
    with refused("'big.bin' is 101 bytes, over the limit of 100 bytes (MILLRACE_MAX_FILE_BYTES)"):
        collect_outputs(work, ["*.bin"], store=Store(), max_bytes=100)


def test_a_fifo_is_refused_without_blocking(work: Path):
    os.mkfifo(work / "pipe.txt")
    with refused("'pipe.txt' is not a regular file"):
        collect_outputs(work, ["*.txt"], store=Store(), max_bytes=100)


def test_a_broken_link_is_refused(work: Path):
    (work / "gone.txt").symlink_to(work / "missing")
    with refused("'gone.txt' cannot be read"):
        collect_outputs(work, ["*.txt"], store=Store(), max_bytes=100)


def test_a_name_storage_cannot_hold_is_refused(work: Path):
    (work / "bad\\name.txt").write_text("x")
    with pytest.raises(ScriptError, match="cannot be kept: A file path may not hold control characters"):
        collect_outputs(work, ["*.txt"], store=Store(), max_bytes=100)


def test_a_store_that_refuses_is_reported(work: Path):
    def refuse(name, content):
        raise FileRefError("Files can only be written by a flow's tasks.")

    (work / "a.txt").write_text("a")
    with refused("'a.txt' cannot be stored: Files can only be written by a flow's tasks"):
        collect_outputs(work, ["a.txt"], store=refuse, max_bytes=100)


def test_too_many_matches_are_refused(work: Path):
    for number in range(MAX_OUTPUT_FILES + 1):
        (work / f"{number}.txt").touch()
    with pytest.raises(ScriptError, match=f"outputFiles match more than {MAX_OUTPUT_FILES} files"):
        collect_outputs(work, ["*.txt"], store=Store(), max_bytes=100)


@pytest.mark.parametrize("glob", ["../*.txt", "a/../../b", "..", " ", "a\\b", "a\nb"])
def test_globs_that_leave_the_working_directory_are_refused(glob: str):
    with pytest.raises(ScriptError, match="outputFiles"):
        check_globs([glob])
