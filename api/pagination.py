"""Strict limit/offset parsing shared by the dialects' paginators."""

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from core.counting import bounded_count
from core.errors import BadRequest

#: What a list's total is, for the API descriptions.
TOTAL_NOTE = (
    "The total counts the matches exactly up to MILLRACE_LIST_EXACT_COUNT (10,000 by default); "
    "beyond, it is PostgreSQL's estimate."
)

#: The largest offset a list accepts: far past any table, far below the databases' 64-bit
#: integers (SQLite refuses a larger OFFSET outright, which was a 500).
MAX_OFFSET = 1_000_000_000


def parse_int(
    query: Mapping[str, str], names: Sequence[str], default: int, *, minimum: int = 0, maximum: int | None = None
) -> int:
    """The first of `names` present in the query as an integer >= minimum (and <= maximum); 400 otherwise."""
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
        if maximum is not None and value > maximum:
            raise BadRequest(f"'{name}' must be at most {maximum}.", details={"field": name, "reason": "too large"})
        return value
    return default


class Window:
    """A page of a queryset: `limit` clamped to `maximum`, `offset` from zero to MAX_OFFSET."""

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
        self.offset = parse_int(query, offset_names, 0, maximum=MAX_OFFSET)
        self.total = 0

    def apply(self, queryset: QuerySet | Sequence[Any]) -> list[Any]:
        """The page; `total` counted as `core.counting` does (exact up to MILLRACE_LIST_EXACT_COUNT)."""
        if isinstance(queryset, QuerySet):
            self.total = bounded_count(queryset, exact_up_to=settings.MILLRACE_LIST_EXACT_COUNT)
        else:
            self.total = len(queryset)
        return list(queryset[self.offset : self.offset + self.limit])
