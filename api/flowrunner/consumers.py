"""FlowRunner's execution WebSocket: the engine's events as the seed's messages."""

from typing import Any

from api.flowrunner.events import stream_message
from executions.consumers import ExecutionStream
from executions.models import Execution, ExecutionEvent


class FlowRunnerExecutionConsumer(ExecutionStream):
    """`execution_update`, `node_completed`, `log`, then `execution_completed`/`execution_failed`.

    The terminal message is sent last even when a hook logged after it in the same
    transaction, so a client may stop reading at it. `?event_ids=true` adds each message's
    `event_id`, the cursor for `?since=` on a reconnect.
    """

    def translate(self, events: list[ExecutionEvent], execution: Execution) -> list[dict[str, Any]]:
        with_ids = (self.options.get("event_ids") or [""])[0].lower() in ("1", "true", "yes")
        messages, terminal = [], []
        for event in events:
            final = self.is_final(event, execution)
            message = stream_message(event, execution, final=final)
            if with_ids:
                message["event_id"] = event.id
            (terminal if final else messages).append(message)
        return messages + terminal
