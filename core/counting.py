"""Totals of list pages that stay cheap as the tables grow.

A list shows one page but says how many rows match (`total`, `X-Total-Count`, `_total`).
`COUNT(*)` reads every matching row: tens to hundreds of milliseconds at a million
executions, for every page. So a total is counted exactly up to a bound, by reading at most
that many rows plus one; past it, PostgreSQL's planner estimates the matching rows from its
statistics, as n8n does for its executions list (exact again once the matches drop under the
bound). SQLite keeps no estimate: it counts.
"""

from typing import Any

from django.db import connections
from django.db.models import QuerySet


def bounded_count(queryset: QuerySet, *, exact_up_to: int) -> int:
    """The number of rows `queryset` matches: exact up to `exact_up_to` (0: always exact),
    beyond it on PostgreSQL the planner's estimate, never below the bound."""
    if exact_up_to <= 0:
        return queryset.count()
    rows = queryset.order_by().values("pk")
    found = rows[: exact_up_to + 1].count()
    if found <= exact_up_to:
        return found
    if connections[queryset.db].vendor != "postgresql":
        return rows.count()
    return max(found, planner_rows(rows))


def planner_rows(queryset: QuerySet) -> int:
    """PostgreSQL's estimate of the rows `queryset` returns (`EXPLAIN`, not run)."""
    sql, params = queryset.query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan: Any = cursor.fetchone()[0]
    return int(plan[0]["Plan"]["Plan Rows"])
