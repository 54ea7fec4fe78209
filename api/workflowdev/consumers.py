"""workflowdev's log stream WebSocket."""

from typing import Any

from core.timefmt import isoformat
from executions.consumers import ExecutionStream
from executions.models import Execution, ExecutionEvent


class WorkflowdevLogConsumer(ExecutionStream):
    """workflowdev `/api/v1/executions/{id}/logs` as a WebSocket: one JSON line per event."""

    def translate(self, events: list[ExecutionEvent], execution: Execution) -> list[dict[str, Any]]:
        return [
            {
                "timestamp": isoformat(event.created_at),
                "level": event.level.upper(),
                "message": event.message,
                "taskName": event.task_run.name if event.task_run else None,
                "taskType": event.task_run.plugin_type if event.task_run else None,
                "executionId": str(execution.pk),
            }
            for event in events
        ]
