"""Files one execution hands another become the receiver's own, as copies.

An execution points only at its own files and its namespace's: the download endpoint, the
console's links and deletion all go by the execution's own storage prefix, so a replay that
pointed at its original's files could not serve them, and deleting the original would break
it. A replay therefore copies the original's files it carries on (its FILE inputs, the outputs
of the steps it keeps), at the same path under its own prefix, and its URIs name the copies
(docs/decisions.md, "Replays copy their original's files").
"""

from __future__ import annotations

from typing import Any

from core import storage
from core.filerefs import PREFIX, execution_prefix


class FileAdopter:
    """Rewrites URIs of `source_id`'s files into URIs of copies under `target_id`, copying each
    file once however often it is named."""

    def __init__(self, *, namespace: str, source_id: str, target_id: str, under: str = "") -> None:
        """Copies go to the same path under the target, or below its directory `under`."""
        self.source = PREFIX + execution_prefix(namespace, source_id) + "/"
        self.target = PREFIX + execution_prefix(namespace, target_id) + "/" + (f"{under}/" if under else "")
        self.copied: dict[str, str] = {}

    def adopt(self, value: Any) -> Any:
        """`value` (JSON) with every URI of the source's files replaced by its copy's URI.

        Recursive: stored inputs and outputs nest at most `MAX_INPUT_DEPTH` (64) levels.
        """
        if isinstance(value, str):
            return self._copy(value) if value.startswith(self.source) else value
        if isinstance(value, dict):
            return {key: self.adopt(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.adopt(item) for item in value]
        return value

    def _copy(self, uri: str) -> str:
        if uri not in self.copied:
            new = self.target + uri[len(self.source) :]
            key, new_key = uri[len(PREFIX) :], new[len(PREFIX) :]
            # a file the original deleted (`file.delete`) is missing from the replay alike
            if storage.exists(key):
                with storage.open_file(key) as handle:
                    storage.put(new_key, handle, limit=max(storage.size(key), storage.max_bytes()))
            self.copied[uri] = new
        return self.copied[uri]
