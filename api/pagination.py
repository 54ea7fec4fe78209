"""Strict limit/offset parsing shared by the dialects' paginators."""

from collections.abc import Mapping, Sequence
from typing import Any

from django.db.models import QuerySet

from core.errors import BadRequest


def parse_int(query: Mapping[str, str], names: Sequence[str], default: int, *, minimum: int = 0) -> int:
    """The first of `names` present in the query as an integer >= minimum; 400 otherwise."""
    for name in names:
        raw = query.get(name)
        if raw is None or raw == "":
            continue
        try:
            value = int(raw)
        except ValueError as exc:
            raise BadRequest(
                f"'{name}' must be an integer.", details={"field": name, "reason": "not an integer"}
            ) from exc
        if value < minimum:
            raise BadRequest(f"'{name}' must be at least {minimum}.", details={"field": name, "reason": "too small"})
        return value
    return default


class Window:
    """A page of a queryset: `limit` clamped to `maximum`, `offset` from zero."""

    def __init__(
        self,
        query: Mapping[str, str],
        *,
        default: int,
        maximum: int = 1000,
        limit_names: Sequence[str] = ("limit",),
        offset_names: Sequence[str] = ("offset",),
    ) -> None:
        self.limit = min(parse_int(query, limit_names, default, minimum=1), maximum)
        self.offset = parse_int(query, offset_names, 0)
        self.total = 0

    def apply(self, queryset: QuerySet | Sequence[Any]) -> list[Any]:
        self.total = queryset.count() if isinstance(queryset, QuerySet) else len(queryset)
        return list(queryset[self.offset : self.offset + self.limit])
