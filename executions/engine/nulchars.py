"""NUL characters out of what the engine writes.

PostgreSQL refuses U+0000 in text and in jsonb (`\\u0000 cannot be converted to text`), so a
step whose output, error or log holds one (a script printing binary, an echo of a webhook's
body) would fail the statement that records it and leave its execution RUNNING. Every such
character is written as U+FFFD (the replacement character) instead, on every backend, so a
flow stores and shows the same values on SQLite and PostgreSQL.
"""

from __future__ import annotations

import functools
from typing import Any

from django.db.models import Model

NUL = "\x00"
REPLACEMENT = "\ufffd"
#: Field kinds whose values may hold text: the others (numbers, dates, ids) are left as they are.
_TEXT_KINDS = frozenset({"CharField", "TextField", "JSONField", "SlugField", "EmailField", "URLField"})


def without_nul(value: Any) -> Any:
    """`value` with every NUL in its strings (object keys included) replaced; the same object
    when it holds none, so the common case copies nothing."""
    if isinstance(value, str):
        return value.replace(NUL, REPLACEMENT) if NUL in value else value
    if isinstance(value, dict):
        cleaned = {}
        changed = False
        for key, item in value.items():
            new_key, new_item = without_nul(key), without_nul(item)
            changed = changed or new_key is not key or new_item is not item
            cleaned[new_key] = new_item
        return cleaned if changed else value
    if isinstance(value, (list, tuple)):
        items = [without_nul(item) for item in value]
        if any(new is not old for new, old in zip(items, value, strict=True)):
            return items if isinstance(value, list) else tuple(items)
    return value


@functools.cache
def _text_fields(model: type[Model]) -> tuple[str, ...]:
    return tuple(f.attname for f in model._meta.concrete_fields if f.get_internal_type() in _TEXT_KINDS)


def row_without_nul(obj: Model) -> None:
    """Replace the NULs of a row about to be inserted, in place (its text and JSON fields)."""
    for attname in _text_fields(type(obj)):
        value = getattr(obj, attname)
        cleaned = without_nul(value)
        if cleaned is not value:
            setattr(obj, attname, cleaned)
