"""Reads of stored files, scoped to a namespace the caller may read.

A namespace the caller cannot read, a path that does not exist and a URI of another
namespace or execution all raise NotFound alike.
"""

from __future__ import annotations

from typing import IO

from accounts.models import Account, Namespace
from accounts.roles import Role
from accounts.selectors import ensure_role
from core import storage
from core.errors import NotFound
from core.filerefs import execution_prefix, file_name, key_of, namespace_dir_key, namespace_file_key


def namespace_file_open(*, account: Account, namespace: Namespace, path: str) -> tuple[str, IO[bytes]]:
    """(file name, open file) of a namespace file."""
    ensure_role(account, namespace, Role.VIEWER)
    key = namespace_file_key(namespace.name, path)
    try:
        return file_name(key), storage.open_file(key)
    except FileNotFoundError:
        raise NotFound(f"File '{path}' not found.") from None


def namespace_file_listing(*, account: Account, namespace: Namespace, path: str | None) -> list[storage.Entry]:
    """The entries of a directory of namespace files (the root when `path` is empty)."""
    ensure_role(account, namespace, Role.VIEWER)
    return storage.listing(namespace_dir_key(namespace.name, path))


def execution_file_open(*, namespace_name: str, execution_id: str, uri: str) -> tuple[str, IO[bytes]]:
    """(file name, open file) of a file of one execution, by URI; the caller has already read the
    execution itself (so its namespace is readable). A URI outside that execution is not found."""
    try:
        key = key_of(uri, namespace_name)
        if not key.startswith(execution_prefix(namespace_name, execution_id) + "/"):
            raise FileNotFoundError(uri)
        return file_name(key), storage.open_file(key)
    except FileNotFoundError:
        raise NotFound("File not found.") from None
