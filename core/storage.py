"""Millrace's internal file storage: a local directory, or an S3-compatible bucket.

The backend is Django's storage named `millrace` (`STORAGES` in the settings): a
`FileSystemStorage` under `MILLRACE_STORAGE_DIR` by default, django-storages' `S3Storage`
when `MILLRACE_STORAGE_URL=s3://bucket/prefix`. Callers pass storage keys built by
`core.filerefs`, never a user's path. Writes are bounded by `MILLRACE_MAX_FILE_BYTES` while
they stream, so an oversize file is refused before any of it is stored.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages

from core.filerefs import FileTooLarge

CHUNK = 1024 * 1024


def backend() -> Storage:
    return storages["millrace"]


def max_bytes() -> int:
    return settings.MILLRACE_MAX_FILE_BYTES


@dataclass(frozen=True)
class Entry:
    """One name in a directory listing."""

    name: str
    is_dir: bool
    size: int | None = None
    modified: datetime | None = None


def _chunks(content: bytes | str | IO) -> Iterator[bytes]:
    if isinstance(content, str):
        content = content.encode()
    if isinstance(content, bytes):
        yield content
        return
    while True:
        chunk = content.read(CHUNK)
        if not chunk:
            return
        yield chunk.encode() if isinstance(chunk, str) else chunk


def put(key: str, content: bytes | str | IO | Iterable[bytes], *, limit: int | None = None) -> int:
    """Store `content` at `key` (replacing what was there); returns its size in bytes."""
    limit = max_bytes() if limit is None else limit
    chunks = content if isinstance(content, Iterator) else _chunks(content)  # type: ignore[arg-type]
    with tempfile.SpooledTemporaryFile(max_size=CHUNK) as spool:
        size = 0
        for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise FileTooLarge(limit)
            spool.write(chunk)
        spool.seek(0)
        # Both backends are configured to overwrite (`allow_overwrite`, `file_overwrite`), so the
        # key is kept, never suffixed.
        backend().save(key, File(spool, name=key))
    return size


def _is_file(storage: Storage, key: str) -> bool:
    """A file, not a directory: a local directory `exists` too, a bucket has none."""
    if isinstance(storage, FileSystemStorage):
        return os.path.isfile(storage.path(key))
    return storage.exists(key)


def open_file(key: str) -> IO[bytes]:
    """The file at `key`, opened for reading; FileNotFoundError when there is none."""
    storage = backend()
    if not _is_file(storage, key):
        raise FileNotFoundError(key)
    return storage.open(key, "rb")


def exists(key: str) -> bool:
    """Whether a file (not a directory) is stored at `key`."""
    return _is_file(backend(), key)


def size(key: str) -> int:
    return backend().size(key)


def delete(key: str) -> bool:
    storage = backend()
    if not _is_file(storage, key):
        return False
    storage.delete(key)
    _prune(storage, posixpath.dirname(key))
    return True


def _prune(storage: Storage, prefix: str) -> None:
    """Remove the local directories a deletion left empty, up to the root: in a bucket a
    directory is only the files under it, and listings look the same on both backends."""
    if not isinstance(storage, FileSystemStorage):
        return
    while prefix:
        try:
            os.rmdir(storage.path(prefix))
        except OSError:  # not empty, or already gone
            return
        prefix = posixpath.dirname(prefix)


def listing(prefix: str) -> list[Entry]:
    """The directories and files directly under `prefix` (an empty list when there is none)."""
    storage = backend()
    try:
        dirs, files = storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):  # nothing there, or a local file
        return []
    entries = [Entry(name, True) for name in sorted(dirs)]
    for name in sorted(files):
        key = f"{prefix}/{name}" if prefix else name
        try:
            modified = storage.get_modified_time(key)
        except (NotImplementedError, FileNotFoundError):
            modified = None
        entries.append(Entry(name, False, storage.size(key), modified))
    return entries


def walk(prefix: str) -> Iterator[str]:
    """Every file key under `prefix`, at any depth."""
    for entry in listing(prefix):
        key = f"{prefix}/{entry.name}"
        if entry.is_dir:
            yield from walk(key)
        else:
            yield key


def delete_prefix(prefix: str) -> int:
    """Delete every file under `prefix`; returns how many there were."""
    storage = backend()
    keys = list(walk(prefix))
    for key in keys:
        storage.delete(key)
    if isinstance(storage, FileSystemStorage):
        shutil.rmtree(storage.path(prefix), ignore_errors=True)  # the now empty directories
        _prune(storage, posixpath.dirname(prefix))
    return len(keys)
