"""Reads of stored files, scoped to a namespace the caller may read.

A namespace the caller cannot read, a path that does not exist and a URI of another
namespace or execution all raise NotFound alike. A path that could leave its place is a
BadRequest naming the query parameter it came in.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import IO

from accounts.models import Account, Namespace
from accounts.roles import Role
from accounts.selectors import ensure_role
from core import storage
from core.errors import BadRequest, NotFound
from core.filerefs import (
    FileRefError,
    clean_dir,
    clean_path,
    execution_prefix,
    file_name,
    key_of,
    namespace_dir_key,
    namespace_file_key,
)


@contextmanager
def path_checked(field: str) -> Iterator[None]:
    """A malformed path or URI becomes a 400 that names the parameter it came in."""
    try:
        yield
    except FileRefError as exc:
        raise BadRequest(str(exc), details={"field": field, "reason": str(exc)}) from None


def clean_file_path(path: str, field: str = "path") -> str:
    """`/a//b.py` → `a/b.py`; a path that could leave its place is a 400 naming `field`."""
    with path_checked(field):
        return clean_path(path)


def clean_directory(path: str | None, field: str = "path") -> str:
    """A directory path, `""` for the root; a path that could leave its place is a 400 naming `field`."""
    with path_checked(field):
        return clean_dir(path)


def namespace_file_open(
    *, account: Account, namespace: Namespace, path: str, field: str = "path"
) -> tuple[str, IO[bytes]]:
    """(file name, open file) of a namespace file."""
    ensure_role(account, namespace, Role.VIEWER)
    with path_checked(field):
        key = namespace_file_key(namespace.name, path)
    try:
        return file_name(key), storage.open_file(key)
    except FileNotFoundError:
        raise NotFound(f"File '{path}' not found.") from None


def namespace_file_listing(
    *, account: Account, namespace: Namespace, path: str | None, field: str = "path"
) -> list[storage.Entry]:
    """The entries of a directory of namespace files: the root (empty `path`) always exists,
    another directory only while it holds files."""
    ensure_role(account, namespace, Role.VIEWER)
    with path_checked(field):
        directory = clean_dir(path)
        key = namespace_dir_key(namespace.name, directory)
    entries = storage.listing(key)
    if directory and not entries:
        if storage.exists(key):
            raise BadRequest(f"'{path}' is a file, not a directory.", details={"field": field, "reason": "a file"})
        raise NotFound(f"Directory '{path}' not found.")
    return entries


def namespace_file_stat(*, account: Account, namespace: Namespace, path: str, field: str = "path") -> storage.Entry:
    """The attributes of a namespace file or directory (`path` empty or `/`: the root)."""
    ensure_role(account, namespace, Role.VIEWER)
    with path_checked(field):
        directory = clean_dir(path)
        key = namespace_dir_key(namespace.name, directory)
    if not directory:
        return storage.Entry("", True)
    if storage.exists(key):
        return storage.Entry(posixpath.basename(directory), False, storage.size(key), _modified(key))
    if storage.listing(key):
        return storage.Entry(posixpath.basename(directory), True)
    raise NotFound(f"File '{path}' not found.")


def _modified(key: str) -> datetime | None:
    try:
        return storage.backend().get_modified_time(key)
    except (NotImplementedError, FileNotFoundError):
        return None


def _execution_key(namespace_name: str, execution_id: str, uri: str) -> str:
    with path_checked("path"):
        try:
            key = key_of(uri, namespace_name)
        except FileNotFoundError:
            raise NotFound("File not found.") from None
        if not key.startswith(execution_prefix(namespace_name, execution_id) + "/"):
            raise NotFound("File not found.")
    return key


def execution_file_open(*, namespace_name: str, execution_id: str, uri: str) -> tuple[str, IO[bytes]]:
    """(file name, open file) of a file of one execution, by URI; the caller has already read the
    execution itself (so its namespace is readable). A URI outside that execution is not found,
    a string that is no `millrace:///` URI a BadRequest."""
    key = _execution_key(namespace_name, execution_id, uri)
    try:
        return file_name(key), storage.open_file(key)
    except FileNotFoundError:
        raise NotFound("File not found.") from None


def execution_file_size(*, namespace_name: str, execution_id: str, uri: str) -> int:
    """The size in bytes of a file of one execution, under the rules of `execution_file_open`."""
    key = _execution_key(namespace_name, execution_id, uri)
    if not storage.exists(key):
        raise NotFound("File not found.")
    return storage.size(key)
