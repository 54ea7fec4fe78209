"""The execution page's timeline: where each task run's bar starts and how long it is.

Bars are placed on the execution's own window (its start to its end, or now while it runs),
in percent, so the page needs no script to draw them and a refreshed fragment redraws them.

A step that ran more than once (its `retry:`, or a retry of the execution, runs it again in
place on the same task run) gets one row per attempt: the earlier attempts are read from the
step's `task_status` events, so no bar spans the time between two attempts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from core.timefmt import seconds_text
from executions.engine.compiler import compiled
from executions.engine.transitions import TERMINAL_TASK_STATUSES
from executions.models import (
    TERMINAL_EXECUTION_STATUSES,
    Execution,
    ExecutionEvent,
    ExecutionStatus,
    TaskRun,
    TaskStatus,
)
from flows.definitions.problems import DefinitionError

MIN_BAR_PERCENT = 0.6  # a step of a few milliseconds still shows as a sliver
#: where an attempt ends: a final status, a back-off before the next try, or a lost worker's requeue
ATTEMPT_ENDS = TERMINAL_TASK_STATUSES | {TaskStatus.RETRYING}


@dataclass(frozen=True)
class Attempt:
    """One earlier attempt of a step, as its events tell it."""

    started_at: datetime
    finished_at: datetime
    status: str
    error: str


@dataclass(frozen=True)
class TimelineRow:
    run: TaskRun
    depth: int
    offset: float | None  # percent of the window before the bar; None: the step has not started
    width: float | None
    duration: str
    inputs: str
    outputs: str
    attempt: int
    status: str
    started_at: datetime | None
    earlier: Attempt | None = None  # set on the row of an attempt before the task run's current one

    @property
    def running(self) -> bool:
        return self.earlier is None and self.started_at is not None and self.run.finished_at is None


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


def attempts(events: list[ExecutionEvent], current_status: str) -> tuple[list[Attempt], datetime | None]:
    """The attempts before the current one, and when the current one started (None: unknown).

    An attempt starts when the step goes RUNNING after having ended (or at its first start)
    and ends at a final status, RETRYING, or QUEUED straight from RUNNING (its worker was lost);
    a wait and the resume after it stay in the attempt. Events in order, of one task run.
    """
    ended: list[Attempt] = []
    start: datetime | None = None
    for event in events:
        data = event.data or {}
        status = data.get("status")
        if status == TaskStatus.RUNNING and start is None:
            start = event.created_at
        elif start is not None and (
            status in ATTEMPT_ENDS or (status == TaskStatus.QUEUED and data.get("previous") == TaskStatus.RUNNING)
        ):
            error = event.message if event.level in ("warn", "error") else ""
            ended.append(Attempt(started_at=start, finished_at=event.created_at, status=status, error=error))
            start = None
    if start is None and ended and current_status in ATTEMPT_ENDS:
        return ended[:-1], ended[-1].started_at  # the last one that ended is the current one
    return ended, start


def attempt_history(runs: list[TaskRun]) -> dict[Any, list[ExecutionEvent]]:
    """The `task_status` events of the runs that ran more than once, in order, in one query."""
    again = [run.pk for run in runs if run.attempt > 1]
    found: dict[Any, list[ExecutionEvent]] = {pk: [] for pk in again}
    if again:
        events = ExecutionEvent.objects.filter(task_run_id__in=again, type="task_status").order_by("id")
        for event in events.only("task_run_id", "data", "level", "message", "created_at"):
            found[event.task_run_id].append(event)
    return found


def _bar(started: datetime | None, ended: datetime, start: datetime, span: float) -> tuple:
    """(offset, width, seconds) of a bar from `started` to `ended` on the window."""
    if started is None:
        return None, None, None
    seconds = max((ended - started).total_seconds(), 0.0)
    offset = round(100 * (started - start).total_seconds() / span, 2)
    width = round(max(100 * seconds / span, MIN_BAR_PERCENT), 2)
    return offset, min(width, max(100 - offset, MIN_BAR_PERCENT)), seconds


def timeline(execution: Execution, runs: list[TaskRun], now: datetime | None = None) -> list[TimelineRow]:
    """A row per attempt of each task run: the earlier attempts first, then the current one."""
    now = now or timezone.now()
    start, span = window(execution, runs, now)
    levels = depths(runs)
    history = attempt_history(runs)
    rows = []
    for run in runs:
        earlier, current_start = attempts(history[run.pk], run.status) if run.pk in history else ([], None)
        for number, attempt in enumerate(earlier, start=1):
            offset, width, seconds = _bar(attempt.started_at, attempt.finished_at, start, span)
            rows.append(
                TimelineRow(
                    run=run,
                    depth=levels[run.pk],
                    offset=offset,
                    width=width,
                    duration=seconds_text(seconds),
                    inputs="",
                    outputs="",
                    attempt=number,
                    status=attempt.status,
                    started_at=attempt.started_at,
                    earlier=attempt,
                )
            )
        started = current_start or run.started_at
        offset, width, seconds = _bar(started, run.finished_at or now, start, span)
        rows.append(
            TimelineRow(
                run=run,
                depth=levels[run.pk],
                offset=offset,
                width=width,
                duration=seconds_text(seconds),
                inputs=pretty(run.inputs),
                outputs=pretty(run.outputs),
                attempt=len(earlier) + 1 if earlier else run.attempt,
                status=run.status,
                started_at=started,
            )
        )
    return rows


@dataclass(frozen=True)
class Progress:
    """The header's counts: steps of the flow's main part that ended, of how many, and handlers."""

    ended: int
    total: int
    handlers: int


def progress(execution: Execution, runs: list[TaskRun]) -> Progress:
    """Counted by step, as `tasks_total` is: a step that ran twice, or once per forEach item,
    counts once, and `errors`/`finally` handlers (run again on each attempt) count apart."""
    try:
        flow = compiled(execution.source)
    except DefinitionError:  # a source that no longer compiles: the engine's own counter
        return Progress(min(execution.tasks_executed, execution.tasks_total), execution.tasks_total, 0)
    main = {step.id for step in flow.steps(include_errors=False)}
    ended = {run.step_id for run in runs if run.status in TERMINAL_TASK_STATUSES}
    handlers = {
        run.step_id
        for run in runs
        if run.step_id not in main and run.execution_attempt == execution.attempt and run.started_at
    }
    return Progress(len(ended & main), execution.tasks_total, len(handlers))


def attempt_started_at(execution: Execution) -> datetime | None:
    """When the execution's current attempt started: its start, or after a retry the first
    RUNNING after the retry's own event (None while the retried attempt has not started)."""
    if execution.attempt <= 1:
        return execution.started_at
    statuses = execution.events.filter(type="execution_status").order_by("-id")
    retried = (
        statuses.filter(data__status=ExecutionStatus.QUEUED, data__previous__in=list(TERMINAL_EXECUTION_STATUSES))
        .values_list("id", flat=True)
        .first()
    )
    if retried is None:
        return None
    running = statuses.filter(id__gt=retried, data__status=ExecutionStatus.RUNNING).order_by("id")
    return running.values_list("created_at", flat=True).first()
