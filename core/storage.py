"""Millrace's internal file storage: a local directory, or an S3-compatible bucket.

The backend is Django's storage named `millrace` (`STORAGES` in the settings): a
`FileSystemStorage` under `MILLRACE_STORAGE_DIR` by default, django-storages' `S3Storage`
when `MILLRACE_STORAGE_URL=s3://bucket/prefix`. Callers pass storage keys built by
`core.filerefs`, never a user's path. Writes are bounded by `MILLRACE_MAX_FILE_BYTES` while
they stream, so an oversize file is refused before any of it is stored. A local write goes to
a temporary file beside its target, renamed over it once whole: a reader sees the old file or
the new one, never half of one, and a failed write leaves the old one (a bucket's PUT is
atomic already).
"""

from __future__ import annotations

import contextlib
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
from django.utils import timezone
from storages.backends.s3 import S3Storage

from core.filerefs import FileTooLarge

CHUNK = 1024 * 1024
#: Where a local write's temporary file starts its name: a backslash, which no stored name holds
#: (`core.filerefs` refuses it), so it never meets a user's file and listings leave it out.
PARTIAL = ".partial\\"


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
    storage = backend()
    if isinstance(storage, FileSystemStorage):
        return _put_local(storage, key, chunks, limit)
    with tempfile.SpooledTemporaryFile(max_size=CHUNK) as spool:
        size = _write(chunks, spool, limit)
        spool.seek(0)
        # configured to overwrite (`file_overwrite`), so the key is kept, never suffixed
        storage.save(key, File(spool, name=key))
    return size


def _write(chunks: Iterator[bytes], handle: IO[bytes], limit: int) -> int:
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise FileTooLarge(limit)
        handle.write(chunk)
    return size


def _put_local(storage: FileSystemStorage, key: str, chunks: Iterator[bytes], limit: int) -> int:
    """Write a temporary file in the target's directory (the same file system), then rename it over
    the target (`os.replace`, atomic): never a half-written or truncated file at `key`."""
    path = storage.path(key)
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, exist_ok=True)
    except FileExistsError:  # as Django's own save says it
        raise FileExistsError(f"{directory} exists and is not a directory.") from None
    descriptor, partial = tempfile.mkstemp(dir=directory, prefix=PARTIAL)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            size = _write(chunks, handle, limit)
        if storage.file_permissions_mode is not None:
            os.chmod(partial, storage.file_permissions_mode)
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise
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
    if isinstance(storage, S3Storage):
        return _bucket_listing(storage, prefix)
    try:
        dirs, files = storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):  # nothing there, or a local file
        return []
    entries = [Entry(name, True) for name in sorted(dirs)]
    for name in sorted(files):
        if name.startswith(PARTIAL):  # a write under way, or one a crash left
            continue
        key = f"{prefix}/{name}" if prefix else name
        try:
            entries.append(Entry(name, False, storage.size(key), storage.get_modified_time(key)))
        except FileNotFoundError:  # deleted since the directory was read
            continue
    return entries


def _bucket_listing(storage: S3Storage, prefix: str) -> list[Entry]:
    """One paginated LIST, as `S3Storage.listdir` makes, keeping the size and date each object
    comes with: `listdir` gives names only, and asking `size` and `get_modified_time` made two
    HEAD requests per file. The bucket's `location` goes before the key, as `S3Storage` puts it."""
    path = posixpath.join(storage.location, prefix).strip("/")
    path = f"{path}/" if path else ""
    dirs: list[str] = []
    files: list[Entry] = []
    paginator = storage.connection.meta.client.get_paginator("list_objects")
    for page in paginator.paginate(Bucket=storage.bucket_name, Delimiter="/", Prefix=path):
        dirs += [posixpath.relpath(entry["Prefix"], path) for entry in page.get("CommonPrefixes", ())]
        for entry in page.get("Contents", ()):
            if entry["Key"] != path:
                modified = entry["LastModified"] if settings.USE_TZ else timezone.make_naive(entry["LastModified"])
                files.append(Entry(posixpath.relpath(entry["Key"], path), False, entry["Size"], modified))
    return [Entry(name, True) for name in sorted(dirs)] + sorted(files, key=lambda entry: entry.name)


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
