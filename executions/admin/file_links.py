"""The files an execution page links: every `millrace:///` URI of the execution's own files found
in its inputs, its outputs and its task runs' outputs, each with where it was found.

Only this execution's files are linked (the download view serves nothing else); a URI of another
execution or of the namespace's files stays plain text in the JSON shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from core.filerefs import FileRefError, execution_prefix, file_name, is_uri, key_of
from executions.models import Execution, TaskRun

#: Links listed on the page; a forEach over thousands of files lists the first ones.
LINK_LIMIT = 200


@dataclass(frozen=True)
class FileLink:
    where: str  # `inputs.data`, `outputs.report`, `<task> · outputFiles.a.csv`
    name: str
    uri: str
    url: str


def uris_in(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(dotted path, URI) of every URI string in a JSON value, walked without recursion."""
    pending: list[tuple[str, Any]] = [(path, value)]
    while pending:
        where, item = pending.pop()
        if is_uri(item):
            yield where, item
        elif isinstance(item, dict):
            pending.extend((f"{where}.{key}" if where else str(key), child) for key, child in reversed(item.items()))
        elif isinstance(item, list):
            pending.extend((f"{where}[{index}]", child) for index, child in reversed(list(enumerate(item))))


def _key(uri: str, namespace: str) -> str:
    """The storage key of `uri`; empty when it is malformed or of another namespace."""
    try:
        return key_of(uri, namespace)
    except (FileRefError, FileNotFoundError):
        return ""


def file_links(execution: Execution, runs: Iterable[TaskRun]) -> list[FileLink]:
    """The links to this execution's files, in the order the page shows their sources, each once."""
    namespace = execution.namespace.name
    own = execution_prefix(namespace, str(execution.pk)) + "/"
    download = reverse("admin:executions_execution_file", args=[execution.pk])
    sources = [("inputs", execution.inputs), ("outputs", execution.outputs)]
    sources += [(f"{run.name} · ", run.outputs) for run in runs]
    links: list[FileLink] = []
    seen: set[str] = set()
    for label, value in sources:
        for where, uri in uris_in(value):
            if uri in seen or not _key(uri, namespace).startswith(own):
                continue
            seen.add(uri)
            place = label + where if label.endswith(" ") else f"{label}.{where}"
            links.append(FileLink(place, file_name(uri), uri, f"{download}?{urlencode({'uri': uri})}"))
            if len(links) == LINK_LIMIT:
                return links
    return links
