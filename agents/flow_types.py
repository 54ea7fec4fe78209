"""`Agents::FlowAgent`: each message it receives starts a flow of its namespace; when that run
ends the agent emits `{"execution_id", "status", "outputs"}`.

The flow runs as the agent's owner — whoever last saved its options, the account whose secrets
the agent uses (`agents.context.AgentResolver`) — with that account's roles: executor or above
in the flow's namespace, which is always the agent's own. The end is noticed through the
engine's end hook (`executions.engine.lifecycle.on_execution_end`, registered by the app): the
hook only queues `result_emit` for after commit, which emits once per execution under the
agent's row lock. Every start carries a depth (the incoming message's plus one) and each
message the result becomes carries the execution's depth on, so agents and flows that feed
each other stop at `MILLRACE_SUBFLOW_MAX_DEPTH`.

Unlike the other handlers it writes while it runs (the execution it starts), inside the run's
savepoint: a run that fails leaves no execution behind.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from agents.runtime import emit, log_lines
from agents.selectors import FLOW_AGENT_TYPES, namespace_flow
from agents.types import AgentError, AgentRun, AgentType, register
from core.errors import MillraceError
from executions.engine import dispatch
from executions.engine.lifecycle import execution_depth
from executions.models import AgentLog, Execution, Message
from executions.services import execution_start
from flows.definitions.fields import is_template
from flows.models import Agent, Flow

ORIGIN = "flow_agent"
OPTIONS = ("flow_id", "namespace", "flow_name", "inputs")


def depth_refusal(depth: int) -> str | None:
    """Why a start `depth` flow starts deep is refused (past `MILLRACE_SUBFLOW_MAX_DEPTH`), or None."""
    limit = settings.MILLRACE_SUBFLOW_MAX_DEPTH
    if depth > limit:
        return f"depth {depth} exceeds MILLRACE_SUBFLOW_MAX_DEPTH ({limit}): agents and flows feed each other"
    return None


def problem_text(exc: MillraceError) -> str:
    """An error's message with the reasons of its details (which input, why)."""
    details = exc.details if isinstance(exc.details, list) else [exc.details] if exc.details else []
    reasons = [f"{d.get('field')}: {d.get('reason')}" for d in details if isinstance(d, dict) and d.get("reason")]
    return f"{exc.message} ({'; '.join(reasons)})" if reasons else exc.message


def _literal(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and not is_template(value)


@register
class FlowAgent(AgentType):
    """Starts a flow for each incoming message; emits the run's status and outputs when it ends."""

    name, aliases = FLOW_AGENT_TYPES[0], FLOW_AGENT_TYPES[1:]
    schedulable = False

    def option_problems(self, options: dict[str, Any]) -> list[str]:
        problems = [f"unknown option '{key}'" for key in options if key not in OPTIONS]
        if not options.get("flow_id") and not options.get("flow_name"):
            problems.append("flow_id, or flow_name (with namespace), is required")
        for key in ("flow_id", "namespace", "flow_name"):
            if key in options and not isinstance(options[key], str):
                problems.append(f"{key} must be a string")
        if not isinstance(options.get("inputs", {}), dict):
            problems.append("inputs must be an object")
        return problems

    def scope_problems(self, namespace_id: Any, options: dict[str, Any]) -> list[str]:
        """A literal flow must exist in the agent's namespace (one elsewhere answers like a missing one)."""
        flow_id, space, flow_name = (options.get(key) for key in ("flow_id", "namespace", "flow_name"))
        if _literal(flow_id):
            if namespace_flow(namespace_id=namespace_id, flow_id=flow_id) is None:
                return [f"flow '{flow_id}' not found"]
        elif not flow_id and _literal(flow_name) and (space is None or _literal(space)):
            flow = namespace_flow(namespace_id=namespace_id, name=flow_name)
            if flow is None or (space is not None and space != flow.namespace.name):
                return [f"flow '{f'{space}/' if space else ''}{flow_name}' not found"]
        return []

    def flow(self, agent: Agent, options: dict[str, Any]) -> Flow:
        """The flow the rendered options name, in the agent's namespace, or AgentError."""
        flow_id, space, flow_name = (options.get(key) for key in ("flow_id", "namespace", "flow_name"))
        if flow_id:
            flow = namespace_flow(namespace_id=agent.namespace_id, flow_id=flow_id)
            missing = f"Flow '{flow_id}' not found."
        else:
            flow = namespace_flow(namespace_id=agent.namespace_id, name=flow_name)
            if flow is not None and space and str(space) != flow.namespace.name:
                flow = None
            missing = f"Flow '{f'{space}/' if space else ''}{flow_name}' not found."
        if flow is None:
            raise AgentError(missing)
        return flow

    def receive(self, run: AgentRun, options: dict[str, Any], payload: dict[str, Any]) -> None:
        """Start the flow (inside the run's transaction: a refused start keeps nothing)."""
        agent = run.agent
        flow = self.flow(agent, options)
        owner = agent.options_saved_by
        if owner is None:
            raise AgentError("The account that saved this agent's options is gone; save them again.")
        depth = run.depth + 1
        refused = depth_refusal(depth)
        if refused:
            raise AgentError(f"Flow '{flow.name}' not started: {refused}.")
        inputs = options.get("inputs") or {}
        if not isinstance(inputs, dict):
            raise AgentError("inputs must render to an object.")
        trigger_data = {"type": "agent", "agentId": str(agent.pk), "messageId": run.message_id, "depth": depth}
        try:
            execution = execution_start(actor=owner, flow=flow, inputs=inputs, origin=ORIGIN, trigger_data=trigger_data)
        except MillraceError as exc:
            raise AgentError(f"Flow '{flow.name}' not started: {problem_text(exc)}") from None
        run.log(f"Started flow '{flow.name}': execution {execution.pk}.")


def execution_ended(execution: Execution) -> None:
    """The engine's end hook: queue the result of an execution a FlowAgent started."""
    if execution.origin == ORIGIN and execution.is_terminal and (execution.trigger_data or {}).get("agentId"):
        dispatch.on_commit("agents.flow_types.result_emit", str(execution.pk))


def result_emit(execution_id: str) -> None:
    """Emit the ended execution's status and outputs (masked as stored) as its agent's message, once."""
    with transaction.atomic():
        execution = Execution.objects.filter(pk=execution_id, origin=ORIGIN).first()
        if execution is None or not execution.is_terminal:
            return
        agent = (
            Agent.objects.select_for_update(of=("self",))
            .filter(pk=(execution.trigger_data or {}).get("agentId"), namespace_id=execution.namespace_id)
            .first()
        )
        if agent is None or Message.objects.filter(agent=agent, payload__execution_id=str(execution.pk)).exists():
            return
        what = f"Flow '{execution.flow_name}' execution {execution.pk} ended {execution.status}"
        if agent.disabled:
            log_lines(agent, [(AgentLog.Level.WARNING, f"{what}; the agent is disabled, nothing emitted.")])
            return
        payload = {"execution_id": str(execution.pk), "status": execution.status, "outputs": execution.outputs}
        emit(agent, [payload], locked=True, depth=execution_depth(execution))
        log_lines(agent, [(AgentLog.Level.INFO, f"{what}; emitted 1 message.")], emitted=1)
