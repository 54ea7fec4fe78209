"""The file methods of a plugin context: files of one namespace, by URI or by path.

A context reads the files of its own namespace only (`core.filerefs.key_of` answers
another namespace's URI as a missing file) and writes under the place it was given: an
execution's task run, or nowhere (the connector proxy, agents), where writing is refused.
It deletes only the files of its own execution (`delete_prefix`): any other URI, of this
namespace or another, is answered as a missing file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from core import storage
from core.filerefs import (
    FileRefError,
    bounded_key,
    clean_path,
    glob_match,
    key_of,
    namespace_dir_key,
    namespace_file_key,
    uri,
)


class FileAccess:
    """Mixed into a PluginContext that has `namespace`; `write_prefix` is where its files go."""

    namespace: str
    write_prefix: str | None = None
    #: The files a step may delete (its execution's); None: it deletes none.
    delete_prefix: str | None = None

    def file_write(self, name: str, content: bytes | str | IO | Iterator[bytes]) -> str:
        """Store a file this step made (content may stream as chunks); returns its `millrace:///` URI."""
        if not self.write_prefix:
            raise FileRefError("Files can only be written by a flow's tasks.")
        key = bounded_key(f"{self.write_prefix}/{clean_path(name)}")
        storage.put(key, content)
        return uri(key)

    def file_open(self, file_uri: str) -> IO[bytes]:
        """A file of this namespace by URI; FileNotFoundError when missing or another namespace's."""
        return storage.open_file(key_of(file_uri, self.namespace))

    def file_size(self, file_uri: str) -> int:
        """The size in bytes of a file of this namespace; FileNotFoundError as `file_open`."""
        key = key_of(file_uri, self.namespace)
        if not storage.exists(key):
            raise FileNotFoundError(file_uri)
        return storage.size(key)

    def file_delete(self, file_uri: str) -> bool:
        """Delete a file of this execution; False when there is none. A URI of another execution
        or namespace, or a namespace file, raises FileNotFoundError, as a missing one could."""
        key = key_of(file_uri, self.namespace)
        if not self.delete_prefix or not key.startswith(f"{self.delete_prefix}/"):
            raise FileNotFoundError(file_uri)
        return storage.delete(key)

    def file_purge(self) -> list[str]:
        """Delete every file of this execution; returns their URIs (none outside a flow)."""
        if not self.delete_prefix:
            return []
        keys = sorted(storage.walk(self.delete_prefix))
        storage.delete_prefix(self.delete_prefix)
        return [uri(key) for key in keys]

    def namespace_files(self, include: list[str] | None = None) -> list[str]:
        """Paths (`a/b.py`) of this namespace's files that match one of the globs (all without)."""
        root = namespace_dir_key(self.namespace, None)
        paths = [key[len(root) + 1 :] for key in storage.walk(root)]
        return sorted(path for path in paths if not include or glob_match(include, path))

    def namespace_file_open(self, path: str) -> IO[bytes]:
        return storage.open_file(namespace_file_key(self.namespace, path))
