"""A script's working directory: made fresh, filled with its input files, read for its outputs, removed.

Names come from flows and from whatever the script created, so each is checked: input names are
normalised (`core.filerefs.clean_path`: no `..`, no absolute escape), output globs may not hold
`..`, and an output file is kept only when its real path (links resolved) lies inside the
working directory, it is a regular file and not larger than the storage's cap.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from connectors.scripts.base import FileSink, FileSource, ScriptError
from connectors.scripts.watchdog import start_ticks
from core.filerefs import FileRefError, FileTooLarge, clean_path, glob_match

CHUNK = 1024 * 1024
#: How many files `outputFiles` may keep from one run.
MAX_OUTPUT_FILES = 1000


#: A run's directory is `millrace-script-<worker pid>-<worker start>-<random>` in the temporary
#: directory: who made it, so that a run its worker did not live to clean up can be found.
ROOT_PREFIX = "millrace-script-"


def make_root() -> Path:
    """A new private directory (mode 0700) holding `work/`, the script's working directory."""
    pid = os.getpid()
    root = Path(tempfile.mkdtemp(prefix=f"{ROOT_PREFIX}{pid}-{start_ticks(pid) or 0}-"))
    (root / "work").mkdir()
    return root


def remove_tree(root: Path) -> None:
    """Remove `root` whatever the script left: directories it made unreadable are opened up first."""
    try:
        shutil.rmtree(root)
        return
    except FileNotFoundError:
        return
    except OSError:
        pass
    for directory, subdirectories, _ in os.walk(root):
        for name in subdirectories:
            path = os.path.join(directory, name)
            if not os.path.islink(path):  # a link's target is not the script's to open up
                with contextlib.suppress(OSError):
                    os.chmod(path, 0o700)
    shutil.rmtree(root, ignore_errors=True)


def place_files(work: Path, files: Mapping[str, FileSource], *, limit: int) -> None:
    """Write each input file at its (normalised) path under `work`; together at most `limit` bytes."""
    total = 0
    for name, source in files.items():
        try:
            path = work / clean_path(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        except FileRefError as error:
            raise ScriptError(f"Input file '{name}': {error}") from None
        except OSError as error:
            raise ScriptError(f"Input file '{name}' cannot be created ({error.strerror}).") from None
        try:
            with os.fdopen(fd, "wb") as out, source() as content:
                while chunk := content.read(CHUNK):
                    total += len(chunk)
                    if total > limit:
                        raise ScriptError(
                            f"The input files are larger than the working directory's limit of {limit} bytes "
                            "(MILLRACE_SCRIPT_DISK_BYTES)."
                        )
                    out.write(chunk)
        except FileNotFoundError:
            raise ScriptError(f"Input file '{name}': the stored file it names was not found.") from None
        except FileRefError as error:
            raise ScriptError(f"Input file '{name}': {error}") from None


def check_globs(globs: list[str]) -> None:
    for pattern in globs:
        if not pattern.strip() or ".." in pattern.split("/"):
            raise ScriptError(f"outputFiles: '{pattern}' must be a glob inside the working directory (no '..').")
        if any(ord(char) < 32 or char == "\\" for char in pattern):
            raise ScriptError(f"outputFiles: '{pattern}' may not hold control characters or backslashes.")


def _matches(work: Path, globs: list[str]) -> list[str]:
    """Relative paths of the files and links under `work` that match a glob (links not followed)."""
    found = []
    for directory, subdirectories, names in os.walk(work):
        base = os.path.relpath(directory, work)
        links = [name for name in subdirectories if os.path.islink(os.path.join(directory, name))]
        for name in names + links:
            relative = name if base == "." else f"{base}/{name}"
            if glob_match(globs, relative):
                found.append(relative)
                if len(found) > MAX_OUTPUT_FILES:
                    raise ScriptError(f"outputFiles match more than {MAX_OUTPUT_FILES} files.")
    return sorted(found)


def _open_output(work: Path, real_work: str, relative: str, max_bytes: int) -> int | None:
    """An open descriptor of one matched output, None for a link to a directory inside; refuses
    anything that leaves the working directory, is not a regular file or is too large."""
    try:
        clean_path(relative)
    except FileRefError as error:
        raise ScriptError(f"Output file '{relative}' cannot be kept: {error}") from None
    real = os.path.realpath(work / relative)
    if os.path.commonpath([real, real_work]) != real_work:
        raise ScriptError(f"Output file '{relative}' points outside the working directory; it was refused.")
    if os.path.isdir(real):
        return None
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        raise ScriptError(f"Output file '{relative}' cannot be read ({error.strerror}).") from None
    info = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(info.st_mode):
        problem = f"Output file '{relative}' is not a regular file; it was refused."
    elif info.st_size > max_bytes:
        problem = (
            f"Output file '{relative}' is {info.st_size} bytes, over the limit of {max_bytes} bytes "
            "(MILLRACE_MAX_FILE_BYTES); it was refused."
        )
    if problem:
        os.close(fd)
        raise ScriptError(problem)
    return fd


def collect_outputs(work: Path, globs: list[str], *, store: FileSink, max_bytes: int) -> dict[str, str]:
    """Store the files matching `globs` (relative path → URI). Every match is checked before
    any is stored, so a refused file leaves nothing half-kept."""
    if not globs:
        return {}
    real_work = os.path.realpath(work)
    opened: list[tuple[str, int]] = []
    try:
        for relative in _matches(work, globs):
            fd = _open_output(work, real_work, relative, max_bytes)
            if fd is not None:
                opened.append((relative, fd))
        stored = {}
        while opened:
            relative, fd = opened.pop(0)
            with os.fdopen(fd, "rb") as content:
                try:
                    stored[relative] = store(relative, content)
                except (FileRefError, FileTooLarge) as error:
                    raise ScriptError(f"Output file '{relative}' cannot be stored: {error}") from None
        return stored
    finally:
        for _, fd in opened:
            os.close(fd)
