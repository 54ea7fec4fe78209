"""Names of stored files: `millrace:///` URIs, storage keys and the paths users give.

Every stored file lives under its namespace's name: `<namespace>/_files/<path>` for a
namespace file (Kestra's `_files`), `<namespace>/executions/<execution id>/<...>` for a file
an execution made or was given. A URI is that key behind `millrace:///`. Whoever resolves a
URI names the namespace it acts for, and a URI of another namespace reads as a missing file:
isolation is decided here, once, not by each caller.

A path from outside (an upload, a glob match, a file name a script wrote) is normalised and
refused when it could leave its place: `..`, empty or dot segments after normalising,
control characters, a segment over 255 characters.
"""

from __future__ import annotations

import posixpath
import re

SCHEME = "millrace"
PREFIX = f"{SCHEME}:///"
NAMESPACE_FILES = "_files"
EXECUTIONS = "executions"
MAX_NAME_CHARS = 255
MAX_PATH_CHARS = 1024
#: A whole storage key (namespace, place and path), leaving room under S3's 1024-byte limit
#: for the bucket prefix of `MILLRACE_STORAGE_URL`.
MAX_KEY_BYTES = 900

_CONTROL = re.compile(r"[\x00-\x1f\x7f\\\ud800-\udfff]")  # and lone surrogates: no file name holds one
_NAMESPACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class FileRefError(ValueError):
    """A path or URI that is malformed or would leave its place (a 400/422 or a failed step)."""


class FileTooLarge(ValueError):
    """A file over `MILLRACE_MAX_FILE_BYTES`; nothing of it is kept."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"The file is larger than the limit of {limit} bytes.")


def clean_path(path: str) -> str:
    """`/a/b.py`, `a//b.py`, `./a/b.py` → `a/b.py`; refuses anything that could escape."""
    if not isinstance(path, str) or not path.strip():
        raise FileRefError("A file path is required.")
    if len(path) > MAX_PATH_CHARS:
        raise FileRefError(f"A file path is at most {MAX_PATH_CHARS} characters.")
    if _CONTROL.search(path):
        raise FileRefError("A file path may not hold control characters or backslashes.")
    segments = [segment for segment in path.split("/") if segment not in ("", ".")]
    if any(segment == ".." for segment in segments):
        raise FileRefError("A file path may not contain '..'.")
    # a file system counts a name's bytes: 255 characters, fewer when they are not ASCII
    if any(len(segment.encode()) > MAX_NAME_CHARS for segment in segments):
        raise FileRefError(
            f"A file or directory name is at most {MAX_NAME_CHARS} characters ({MAX_NAME_CHARS} bytes in UTF-8)."
        )
    if not segments:
        raise FileRefError("A file path must name a file.")
    return "/".join(segments)


def clean_dir(path: str | None) -> str:
    """A directory path; empty (or `/`) is the root."""
    if path is None or path.strip() in ("", "/", "."):
        return ""
    return clean_path(path)


def _namespace(namespace: str) -> str:
    if not _NAMESPACE.match(namespace or ""):
        raise FileRefError(f"'{namespace}' is not a namespace name.")
    return namespace


def bounded_key(key: str) -> str:
    """A storage key S3 can hold (1024 bytes with the bucket's prefix): refused, not a 500, beyond."""
    if len(key.encode()) > MAX_KEY_BYTES:
        raise FileRefError(f"The file path is too long: a stored name is at most {MAX_KEY_BYTES} bytes in all.")
    return key


def namespace_file_key(namespace: str, path: str) -> str:
    return bounded_key(f"{_namespace(namespace)}/{NAMESPACE_FILES}/{clean_path(path)}")


def namespace_dir_key(namespace: str, path: str | None) -> str:
    directory = clean_dir(path)
    root = f"{_namespace(namespace)}/{NAMESPACE_FILES}"
    return f"{root}/{directory}" if directory else root


def execution_prefix(namespace: str, execution_id: str) -> str:
    if not re.fullmatch(r"[0-9a-fA-F-]{1,64}", str(execution_id)):
        raise FileRefError("Not an execution id.")
    return f"{_namespace(namespace)}/{EXECUTIONS}/{execution_id}"


def execution_file_key(namespace: str, execution_id: str, path: str) -> str:
    return bounded_key(f"{execution_prefix(namespace, execution_id)}/{clean_path(path)}")


def uri(key: str) -> str:
    return PREFIX + key


def is_uri(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def key_of(value: str, namespace: str) -> str:
    """The storage key of a URI, for a caller acting in `namespace`.

    A URI of another namespace raises FileNotFoundError, as a missing file does: nothing tells
    a caller that a file exists elsewhere.
    """
    if not is_uri(value):
        raise FileRefError(f"A file URI starts with {PREFIX}.")
    key = clean_path(value[len(PREFIX) :])
    if key.split("/", 1)[0] != _namespace(namespace) or "/" not in key:
        raise FileNotFoundError(value)
    return key


def file_name(key: str) -> str:
    return posixpath.basename(key)


def glob_pattern(pattern: str) -> re.Pattern[str]:
    """A glob over relative paths: `*` and `?` stay within a directory, `**` crosses them
    (`**.py`, `scripts/**`, `**/*.csv`). A leading `/` is dropped: `/a/*.py` is `a/*.py`."""
    text = pattern.lstrip("/")
    out, i = [], 0
    while i < len(text):
        if text.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif text.startswith("**", i):
            out.append(".*")
            i += 2
        elif text[i] == "*":
            out.append("[^/]*")
            i += 1
        elif text[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(text[i]))
            i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def glob_match(patterns: list[str], path: str) -> bool:
    return any(glob_pattern(pattern).match(path) for pattern in patterns)
