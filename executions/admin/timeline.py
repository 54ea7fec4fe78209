"""The execution page's timeline: where each task run's bar starts and how long it is.

Bars are placed on the execution's own window (its start to its end, or now while it runs),
in percent, so the page needs no script to draw them and a refreshed fragment redraws them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from executions.models import Execution, TaskRun

MIN_BAR_PERCENT = 0.6  # a step of a few milliseconds still shows as a sliver


@dataclass(frozen=True)
class TimelineRow:
    run: TaskRun
    depth: int
    offset: float | None  # percent of the window before the bar; None: the step has not started
    width: float | None
    duration: str
    inputs: str
    outputs: str

    @property
    def running(self) -> bool:
        return self.run.started_at is not None and self.run.finished_at is None


def seconds_text(seconds: float | None) -> str:
    """`0.042 s`, `3.4 s`, `2 min 5 s`: precise for short steps, readable for long ones."""
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds:.3f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s"


def pretty(value: Any) -> str:
    """Stored JSON as indented text, exactly as stored (task inputs are stored masked)."""
    if value is None:
        return ""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def window(execution: Execution, runs: list[TaskRun], now: datetime) -> tuple[datetime, float]:
    """The start of the drawn window and its length in seconds (never zero)."""
    starts = [run.started_at for run in runs if run.started_at] + [execution.started_at or execution.created_at]
    start = min(starts)
    ends = [run.finished_at for run in runs if run.finished_at]
    end = execution.finished_at or now
    end = max([end, *ends])
    return start, max((end - start).total_seconds(), 0.001)


def depths(runs: list[TaskRun]) -> dict[Any, int]:
    """How deep each run sits under flow-control parents (forEach items, parallel branches)."""
    parent_of = {run.pk: run.parent_id for run in runs}
    found: dict[Any, int] = {}
    for run in runs:
        depth, parent, seen = 0, run.parent_id, set()
        while parent is not None and parent in parent_of and parent not in seen:
            seen.add(parent)
            depth += 1
            parent = parent_of[parent]
        found[run.pk] = depth
    return found


def timeline(execution: Execution, runs: list[TaskRun], now: datetime | None = None) -> list[TimelineRow]:
    now = now or timezone.now()
    start, span = window(execution, runs, now)
    levels = depths(runs)
    rows = []
    for run in runs:
        offset = width = None
        seconds = None
        if run.started_at is not None:
            end = run.finished_at or now
            seconds = max((end - run.started_at).total_seconds(), 0.0)
            offset = round(100 * (run.started_at - start).total_seconds() / span, 2)
            width = round(max(100 * seconds / span, MIN_BAR_PERCENT), 2)
            width = min(width, max(100 - offset, MIN_BAR_PERCENT))
        rows.append(
            TimelineRow(
                run=run,
                depth=levels[run.pk],
                offset=offset,
                width=width,
                duration=seconds_text(seconds),
                inputs=pretty(run.inputs),
                outputs=pretty(run.outputs),
            )
        )
    return rows
