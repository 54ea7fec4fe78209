"""Agent triggers: each message an agent emits starts the flows whose `agent` trigger watches it.

`agents.runtime.emit` queues `triggers_fire` once its messages commit, so a message is never
lost to a start that fails: each start is tried on its own, and a refused one (inputs of the
wrong type, the depth limit, a definition that no longer compiles) is a warning line in the
emitting agent's log and a log record; the emission itself stands. A task delivered twice
starts nothing twice (`executions.triggers.agent_fire` skips a message it already started).
"""

from __future__ import annotations

import logging

from agents.flow_types import problem_text
from agents.runtime import log_lines
from core.errors import MillraceError
from executions.models import AgentLog, Message
from executions.triggers import agent_fire
from flows.models import Trigger

logger = logging.getLogger("millrace.agents")


def triggers_fire(message_ids: list[int]) -> int:
    """Start the watching flows for each message (oldest first); the number of executions started."""
    started = 0
    messages = Message.objects.filter(pk__in=message_ids).select_related("agent").order_by("id")
    for message in messages:
        triggers = Trigger.objects.filter(
            type=Trigger.Type.AGENT,
            enabled=True,
            source_agent_id=message.agent_id,
            flow__namespace_id=message.agent.namespace_id,
        ).select_related("flow__namespace")
        refused: list[tuple[str, str]] = []
        for trigger in triggers.order_by("created_at", "id"):
            try:
                started += agent_fire(trigger=trigger, message=message) is not None
            except MillraceError as exc:
                text = f"Message {message.pk} did not start flow '{trigger.flow.name}': {problem_text(exc)}"
                logger.warning("Agent trigger %s: %s", trigger.pk, text)
                refused.append((AgentLog.Level.WARNING, text))
        if refused:
            log_lines(message.agent, refused)
    return started
