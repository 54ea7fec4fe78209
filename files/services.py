"""Writes of stored files: namespace files (editors) and the files an execution is given."""

from __future__ import annotations

from typing import IO

from accounts.models import Account, Namespace
from accounts.roles import Role
from accounts.selectors import ensure_role
from core import storage
from core.errors import NotFound
from core.filerefs import execution_file_key, execution_prefix, namespace_dir_key, namespace_file_key, uri


def namespace_file_put(*, account: Account, namespace: Namespace, path: str, content: bytes | IO) -> int:
    """Create or replace a namespace file; returns its size (FileTooLarge over the cap)."""
    ensure_role(account, namespace, Role.EDITOR)
    return storage.put(namespace_file_key(namespace.name, path), content)


def namespace_file_delete(*, account: Account, namespace: Namespace, path: str) -> int:
    """Delete a file, or a directory with everything under it; returns how many files went."""
    ensure_role(account, namespace, Role.EDITOR)
    if storage.delete(namespace_file_key(namespace.name, path)):
        return 1
    removed = storage.delete_prefix(namespace_dir_key(namespace.name, path))
    if not removed:
        raise NotFound(f"File '{path}' not found.")
    return removed


def execution_file_put(*, namespace_name: str, execution_id: str, path: str, content: bytes | IO) -> str:
    """Store a file an execution is given (a FILE input); returns its URI."""
    key = execution_file_key(namespace_name, execution_id, path)
    storage.put(key, content)
    return uri(key)


def execution_files_delete(*, namespace_name: str, execution_id: str) -> int:
    """Delete every file of an execution (its inputs and what its tasks wrote)."""
    return storage.delete_prefix(execution_prefix(namespace_name, execution_id))
