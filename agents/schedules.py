"""Agent schedules: Huginn's names (`every_5m`, `midnight`, `7pm`, `never`) or a cron string.

One django-q2 schedule calls `runtime.tick` every minute; `is_due` decides per agent from
its `last_run_at` (the last scheduled or manual run). Interval schedules compare whole
minutes, so a tick that starts a few seconds late never skips a beat.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from croniter import croniter

NEVER = "never"
INTERVALS: dict[str, timedelta] = {
    "every_1m": timedelta(minutes=1),
    "every_2m": timedelta(minutes=2),
    "every_5m": timedelta(minutes=5),
    "every_10m": timedelta(minutes=10),
    "every_30m": timedelta(minutes=30),
    "every_1h": timedelta(hours=1),
    "every_2h": timedelta(hours=2),
    "every_5h": timedelta(hours=5),
    "every_12h": timedelta(hours=12),
    "every_1d": timedelta(days=1),
    "every_2d": timedelta(days=2),
    "every_7d": timedelta(days=7),
}
_HOUR_NAME = re.compile(r"^(1[0-2]|[1-9])(am|pm)$")


def _hour_cron(name: str) -> str | None:
    """`midnight`, `noon`, `1am`..`11pm` as a daily cron (times are UTC)."""
    if name == "midnight":
        return "0 0 * * *"
    if name == "noon":
        return "0 12 * * *"
    match = _HOUR_NAME.match(name)
    if not match:
        return None
    hour = int(match.group(1)) % 12 + (12 if match.group(2) == "pm" else 0)
    return f"0 {hour} * * *"


def normalize(schedule: str | None) -> str:
    return (schedule or NEVER).strip() or NEVER


def is_valid(schedule: str | None) -> bool:
    schedule = normalize(schedule)
    return schedule == NEVER or schedule in INTERVALS or _hour_cron(schedule) is not None or croniter.is_valid(schedule)


def _minute(value: datetime) -> datetime:
    return value.replace(second=0, microsecond=0)


def is_due(schedule: str | None, last_run_at: datetime | None, now: datetime) -> bool:
    """Whether an agent with this schedule, last run at `last_run_at`, runs at the tick `now`."""
    schedule = normalize(schedule)
    if schedule == NEVER or not is_valid(schedule):
        return False
    interval = INTERVALS.get(schedule)
    if interval is not None:
        return last_run_at is None or _minute(now) - _minute(last_run_at) >= interval
    cron = _hour_cron(schedule) or schedule
    # The first cron time after the last run (or, never run, after the start of this minute) has passed.
    start = last_run_at if last_run_at is not None else _minute(now) - timedelta(seconds=1)
    return croniter(cron, start).get_next(datetime) <= now
