"""FlowRunner words for core statuses, and execution events as FlowRunner log entries and
WebSocket messages.

The engine writes three event types (`execution_status`, `task_status`, `log`); FlowRunner
knows `execution_update`, `node_completed`, `log`, `execution_completed` and
`execution_failed`. Every event becomes exactly one message, so nothing the engine
recorded is hidden from a client.
"""

from __future__ import annotations

from typing import Any

from core.errors import BadRequest
from core.timefmt import isoformat
from executions.models import Execution, ExecutionEvent, ExecutionStatus, TaskRun, TaskStatus

E, T = ExecutionStatus, TaskStatus

EXECUTION_WORDS: dict[str, str] = {
    E.QUEUED: "running",
    E.RUNNING: "running",
    E.WAITING: "running",
    E.PAUSED: "paused",
    E.SUCCESS: "completed",
    E.WARNING: "completed",  # ended after a step with `allowFailure` failed
    E.FAILED: "failed",
    E.CANCELLED: "cancelled",
    E.TIMED_OUT: "failed",
}
STATUS_FILTER: dict[str, tuple[str, ...]] = {
    "running": (E.QUEUED, E.RUNNING, E.WAITING),
    "paused": (E.PAUSED,),
    "completed": (E.SUCCESS, E.WARNING),
    "failed": (E.FAILED, E.TIMED_OUT),
    "cancelled": (E.CANCELLED,),
}
#: Node statuses have no word in the seed; SUCCESS reads like the execution's `completed`.
TASK_WORDS: dict[str, str] = {T.SUCCESS: "completed"}
LOG_LEVELS = ("debug", "info", "warn", "error")
TERMINAL_WORDS = {E.SUCCESS, E.WARNING, E.FAILED, E.CANCELLED, E.TIMED_OUT}


def status_word(status: str) -> str:
    return EXECUTION_WORDS.get(status, status.lower())


def task_word(status: str) -> str:
    return TASK_WORDS.get(status, status.lower())


def log_level(value: str | None) -> str | None:
    """A `level` filter; `warning` is accepted for `warn`."""
    if not value:
        return None
    level = "warn" if value.lower() == "warning" else value.lower()
    if level not in LOG_LEVELS:
        raise BadRequest(
            f"Unknown level '{value}'; use one of {', '.join(LOG_LEVELS)}.",
            details={"field": "level", "reason": "unknown level"},
        )
    return level


def execution_error(execution: Execution) -> str | None:
    """FlowRunner shows TIMED_OUT as `failed`, so the error must say it timed out."""
    if execution.status == E.TIMED_OUT and "timed out" not in (execution.error or "").lower():
        return f"Execution timed out. {execution.error}".strip()
    return execution.error or None


def _node(run: TaskRun | None) -> dict[str, str | None]:
    return {"node_id": run.step_id if run else None, "node_type": run.plugin_type if run else None}


def log_data(event: ExecutionEvent) -> Any:
    """A log event's own data; status events show the status in FlowRunner words."""
    data = event.data or {}
    if event.type == "execution_status":
        return {"status": status_word(data.get("status", ""))}
    if event.type == "task_status":
        hidden = {"step", "name", "plugin", "status", "previous"}
        return {"status": task_word(data.get("status", "")), **{k: v for k, v in data.items() if k not in hidden}}
    return event.data


def log_entry(event: ExecutionEvent) -> dict[str, Any]:
    """One entry of `GET /executions/{id}/logs`; every event is a log line."""
    return {
        "timestamp": isoformat(event.created_at),
        "level": event.level,
        "message": event.message,
        **_node(event.task_run),
        "data": log_data(event),
    }


def _failed_node(execution: Execution) -> TaskRun | None:
    return (
        execution.task_runs.filter(status__in=(T.FAILED, T.TIMED_OUT)).only("step_id", "plugin_type").last()
        if execution.status in (E.FAILED, E.TIMED_OUT)
        else None
    )


def stream_message(event: ExecutionEvent, execution: Execution, *, final: bool) -> dict[str, Any]:
    """The WebSocket message of one event. `final` marks the execution's last status change:
    only that one is sent as `execution_completed`/`execution_failed` (a run that ended and
    was retried by another dialect shows its earlier end as an `execution_update`)."""
    base = {"type": "", "execution_id": str(execution.pk)}
    stamp = isoformat(event.created_at)
    data = event.data or {}
    status = data.get("status", "")
    if event.type == "execution_status":
        if final and status in (E.SUCCESS, E.WARNING):
            return {
                **base,
                "type": "execution_completed",
                "status": "completed",
                "result": execution.outputs,
                "timestamp": stamp,
            }
        if final and status in TERMINAL_WORDS:
            return {
                **base,
                "type": "execution_failed",
                "status": status_word(status),
                "error": execution_error(execution) or event.message,
                **_node(_failed_node(execution)),
                "timestamp": stamp,
            }
        return {**base, "type": "execution_update", "status": status_word(status), **_node(None), "timestamp": stamp}
    run = event.task_run
    if event.type == "task_status" and status == T.RUNNING:
        return {**base, "type": "execution_update", "status": "running", **_node(run), "timestamp": stamp}
    if event.type == "task_status" and status == T.SUCCESS:
        result = data.get("outputs", run.outputs if run else None)
        return {**base, "type": "node_completed", **_node(run), "result": result, "timestamp": stamp}
    return {
        **base,
        "type": "log",
        "level": event.level,
        "message": event.message,
        **_node(run),
        "data": log_data(event),
        "timestamp": stamp,
    }
