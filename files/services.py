"""Writes of stored files: namespace files (editors) and the files an execution is given.

A namespace file's path is checked before anything is stored: a malformed one is a 400 naming
its parameter, a file where a directory is (or the other way round) a 409, a file over
`MILLRACE_MAX_FILE_BYTES` a 413 with nothing of it kept. Every write is audited.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import IO

from accounts.models import Account, Namespace
from accounts.roles import Role
from accounts.selectors import ensure_role
from accounts.services import audit_record
from core import storage
from core.errors import BadRequest, Conflict, NotFound, PayloadTooLarge
from core.filerefs import (
    FileTooLarge,
    bounded_key,
    execution_file_key,
    execution_prefix,
    namespace_dir_key,
    namespace_file_key,
    uri,
)
from files.selectors import clean_file_path, path_checked


@dataclass(frozen=True)
class StoredFile:
    """A namespace file just written: its normalised path (`a/b.py`), size, and whether it is new."""

    path: str
    size: int
    created: bool


def _audit(account: Account, namespace: Namespace, action: str, **summary: str | int) -> None:
    audit_record(
        actor=account,
        action=f"namespace_file.{action}",
        resource_type="namespace_file",
        resource_id="",
        namespace=namespace,
        summary=summary,
    )


def _file_key(namespace: Namespace, path: str, field: str) -> tuple[str, str]:
    """(normalised path, storage key); a path that could leave its place, or too long for a
    storage key (S3 holds 1024 bytes with the bucket's prefix), is a 400 naming `field`."""
    path = clean_file_path(path, field)
    with path_checked(field):
        return path, namespace_file_key(namespace.name, path)


def _ensure_room(namespace: Namespace, path: str) -> None:
    """Refuse a file where a directory is, or under a name that is a file (409)."""
    if storage.listing(namespace_dir_key(namespace.name, path)):
        raise Conflict(f"'{path}' is a directory.")
    parent = posixpath.dirname(path)
    while parent:
        if storage.exists(namespace_file_key(namespace.name, parent)):
            raise Conflict(f"'{parent}' is a file; it cannot hold other files.")
        parent = posixpath.dirname(parent)


def namespace_file_put(
    *, account: Account, namespace: Namespace, path: str, content: bytes | IO, field: str = "path"
) -> StoredFile:
    """Create or replace a namespace file."""
    ensure_role(account, namespace, Role.EDITOR)
    path, key = _file_key(namespace, path, field)
    created = not storage.exists(key)
    if created:
        _ensure_room(namespace, path)
    try:
        size = storage.put(key, content)
    except FileTooLarge as exc:
        raise PayloadTooLarge(str(exc), details={"field": field, "reason": "too_large"}) from None
    _audit(account, namespace, "put", path=path, size=size)
    return StoredFile(path, size, created)


def namespace_file_delete(*, account: Account, namespace: Namespace, path: str, field: str = "path") -> int:
    """Delete a file, or a directory with everything under it; returns how many files went."""
    ensure_role(account, namespace, Role.EDITOR)
    path, key = _file_key(namespace, path, field)
    removed = 1 if storage.delete(key) else storage.delete_prefix(namespace_dir_key(namespace.name, path))
    if not removed:
        raise NotFound(f"File '{path}' not found.")
    _audit(account, namespace, "delete", path=path, files=removed)
    return removed


def namespace_file_move(*, account: Account, namespace: Namespace, source: str, target: str) -> int:
    """Move (rename) a file, or a directory with everything under it; returns how many files moved.

    Nothing is replaced: a target that exists is a 409. Each file is copied, then the source
    deleted, so a move that stops half-way loses nothing.
    """
    ensure_role(account, namespace, Role.EDITOR)
    source, source_key = _file_key(namespace, source, "from")
    target, target_key = _file_key(namespace, target, "to")
    if source == target or target.startswith(source + "/"):
        raise BadRequest(
            f"'{target}' is '{source}' or inside it.", details={"field": "to", "reason": "inside the source"}
        )
    if storage.exists(source_key):
        moves = [(source_key, target_key)]
    else:
        source_dir = namespace_dir_key(namespace.name, source)
        target_dir = namespace_dir_key(namespace.name, target)
        moves = [(key, target_dir + key[len(source_dir) :]) for key in storage.walk(source_dir)]
    if not moves:
        raise NotFound(f"File '{source}' not found.")
    if storage.exists(target_key) or storage.listing(namespace_dir_key(namespace.name, target)):
        raise Conflict(f"'{target}' exists already.")
    with path_checked("to"):  # a directory's files under a longer name may outgrow a storage key
        for _, new in moves:
            bounded_key(new)
    _ensure_room(namespace, target)
    for old, new in moves:
        with storage.open_file(old) as handle:
            storage.put(new, handle, limit=max(storage.size(old), storage.max_bytes()))
        storage.delete(old)
    _audit(account, namespace, "move", path=source, to=target, files=len(moves))
    return len(moves)


def namespace_files_purge(*, namespace_name: str) -> int:
    """Delete every stored file of a namespace that is gone (its own files and its executions')."""
    root = namespace_dir_key(namespace_name, None).partition("/")[0]  # a checked name, never "" (everything)
    return storage.delete_prefix(root)


def execution_file_put(*, namespace_name: str, execution_id: str, path: str, content: bytes | IO) -> str:
    """Store a file an execution is given (a FILE input); returns its URI."""
    key = execution_file_key(namespace_name, execution_id, path)
    storage.put(key, content)
    return uri(key)


def execution_files_delete(*, namespace_name: str, execution_id: str) -> int:
    """Delete every file of an execution (its inputs and what its tasks wrote)."""
    return storage.delete_prefix(execution_prefix(namespace_name, execution_id))
