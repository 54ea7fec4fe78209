"""Parsing of workflowsvc's query parameters: `nsfilter`, `_status`, dates, `sort`, booleans.

Every malformed value is a 400 in the dialect's shape; nothing here touches business rules
beyond asking the accounts selectors which namespaces the caller may read.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta

from django.utils.dateparse import parse_datetime

from accounts.models import Account, Namespace
from accounts.selectors import role_in
from core import jsonlimits
from core.errors import BadRequest, Forbidden
from executions.models import ExecutionStatus

E = ExecutionStatus

# workflowsvc status word -> core execution statuses (DIALECTS.md, status words).
STATUS_WORDS: dict[str, tuple[str, ...]] = {
    "QUEUED": (E.QUEUED,),
    "RUNNING": (E.RUNNING, E.WAITING),
    "PAUSED": (E.PAUSED,),
    "COMPLETED": (E.SUCCESS, E.WARNING),
    "FAILED": (E.FAILED,),
    "TERMINATED": (E.CANCELLED,),
    "TIMED_OUT": (E.TIMED_OUT,),
}

# `sort` keys a client may name -> model fields.
SORT_FIELDS: dict[str, str] = {
    "_id": "id",
    "_name": "flow_name",
    "_workflowDefId": "flow_id",
    "_status": "status",
    "_createdAt": "created_at",
    "_updatedAt": "updated_at",
}

_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def _bad(name: str, message: str, reason: str) -> BadRequest:
    return BadRequest(message, details={"field": name, "reason": reason})


def parse_nsfilter(query: Mapping[str, str], account: Account) -> list[Namespace]:
    """The namespaces named by `nsfilter`: required; one the caller cannot read is a 403.

    A name that does not exist is also a 403, so the answer does not reveal which exist.
    """
    raw = query.get("nsfilter", "")
    names = list(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if not names:
        raise _bad("nsfilter", "'nsfilter' is required: a comma-separated list of namespaces.", "required")
    found = {ns.name: ns for ns in Namespace.objects.filter(name__in=names)}
    refused = [name for name in names if name not in found or role_in(account, found[name]) is None]
    if refused:
        raise Forbidden(
            f"You cannot read namespace(s): {', '.join(refused)}.",
            details={"field": "nsfilter", "reason": "forbidden", "namespaces": refused},
        )
    return [found[name] for name in names]


def parse_statuses(query: Mapping[str, str]) -> list[str] | None:
    """Core statuses for `_status` (one word or several, comma-separated); None when absent."""
    raw = query.get("_status", "").strip()
    if not raw:
        return None
    statuses: list[str] = []
    for word in (part.strip().upper() for part in raw.split(",") if part.strip()):
        if word not in STATUS_WORDS:
            raise _bad("_status", f"Unknown status '{word}'; use one of {', '.join(STATUS_WORDS)}.", "unknown status")
        statuses += STATUS_WORDS[word]
    return statuses


def _parse_moment(name: str, raw: str, *, end: bool) -> datetime:
    """A date or datetime; a bare end date covers its whole day (UTC).

    A day past the month's end (the seed's own example asks for 2026-02-29) is read as
    the month's last day rather than refused.
    """
    match = _DATE.match(raw)
    if match:
        year, month, day = (int(part) for part in match.groups())
        try:
            if not 1 <= month <= 12 or not 1 <= day <= 31:
                raise ValueError
            day = min(day, calendar.monthrange(year, month)[1])
            moment = datetime.combine(date(year, month, day), time.min, tzinfo=UTC)
        except ValueError as exc:
            raise _bad(name, f"'{name}' is not a valid date.", "invalid date") from exc
        return moment + timedelta(days=1) - timedelta(microseconds=1) if end else moment
    try:
        moment = parse_datetime(raw.replace(" ", "+"))  # a '+' in an unencoded query arrives as a space
    except ValueError:
        moment = None
    if moment is None:
        raise _bad(name, f"'{name}' must be a date (YYYY-MM-DD) or an ISO 8601 datetime.", "invalid date")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_dates(query: Mapping[str, str]) -> tuple[datetime | None, datetime | None]:
    """(`startDate`, `endDate` or `enddate`) as bounds on the creation time."""
    start_raw = query.get("startDate", "").strip()
    end_name = "endDate" if query.get("endDate", "").strip() else "enddate"
    end_raw = query.get(end_name, "").strip()
    start = _parse_moment("startDate", start_raw, end=False) if start_raw else None
    end = _parse_moment(end_name, end_raw, end=True) if end_raw else None
    if start and end and start > end:
        raise _bad(end_name, f"'{end_name}' is before 'startDate'.", "before start")
    return start, end


def parse_sort(query: Mapping[str, str]) -> list[str]:
    """`sort` as ORDER BY terms: a JSON object of field -> 1 or -1, in the order given.

    The id is always the last key, so that pages never overlap when the values tie.
    """
    raw = query.get("sort", "").strip()
    if not raw:
        return ["-created_at", "-id"]
    try:
        spec = jsonlimits.loads(raw)
    except ValueError as exc:
        raise _bad("sort", "'sort' must be a JSON object such as {\"_updatedAt\":-1}.", "invalid JSON") from exc
    if not isinstance(spec, dict) or not spec:
        raise _bad("sort", "'sort' must be a non-empty JSON object of field -> 1 or -1.", "not an object")
    order: list[str] = []
    for key, direction in spec.items():
        if key not in SORT_FIELDS:
            raise _bad("sort", f"Cannot sort by '{key}'; use {', '.join(SORT_FIELDS)}.", "unknown field")
        if isinstance(direction, bool) or direction not in (1, -1):
            raise _bad("sort", f"The direction of '{key}' must be 1 or -1.", "invalid direction")
        order.append(("-" if direction == -1 else "") + SORT_FIELDS[key])
    if not any(term.lstrip("-") == "id" for term in order):
        order.append("-id" if order[-1].startswith("-") else "id")
    return order


def parse_bool(query: Mapping[str, str], name: str, default: bool = False) -> bool:
    raw = query.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("true", "1", "yes"):
        return True
    if raw in ("false", "0", "no"):
        return False
    raise _bad(name, f"'{name}' must be true or false.", "not a boolean")
