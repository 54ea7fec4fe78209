"""The execution page's flow graph: the flow page's picture (`flows.graph.flow_svg`) of the
execution's own source, each step's box marked with the state of its task runs.

The picture is drawn once per render of the live fragment, so the live updates (the socket
rings, the fragment is fetched again) recolour it as task runs change. A step with no task run
yet is marked `not-started` and drawn greyed: every step of the flow is there from the start.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import quoteattr, unescape

from django.utils.safestring import SafeString, mark_safe

from executions.engine.compiler import compiled
from executions.models import Execution, TaskStatus
from flows.definitions.problems import DefinitionError
from flows.graph import flow_svg

T = TaskStatus
NOT_STARTED = "not-started"
#: A step run more than once (forEach items, parallel lanes) shows the first of these it has:
#: something still going on first, then how it ended, worst first.
PRECEDENCE = (
    T.RUNNING,
    T.RETRYING,
    T.WAITING,
    T.PAUSED,
    T.QUEUED,
    T.PENDING,
    T.FAILED,
    T.TIMED_OUT,
    T.CANCELLED,
    T.SUCCESS,
    T.SKIPPED,
)
RANK = {status: rank for rank, status in enumerate(PRECEDENCE)}
#: The step groups `flow_svg` writes: `<g class="mr-node …" data-step="id">` and frames.
STEP_GROUP = re.compile(r'(<g class="mr-(?:node|frame)[^"]*" data-step=)("[^"]*"|\'[^\']*\')>')
ENTITIES = {"&quot;": '"', "&apos;": "'"}


def step_states(execution: Execution) -> dict[str, str]:
    """Each step's state (a task status), by step id, from its task runs: one query of the
    distinct (step, status) pairs, however many items a forEach ran."""
    found: dict[str, str] = {}
    pairs = execution.task_runs.order_by().values_list("step_id", "status").distinct()
    for step_id, status in pairs:
        if step_id not in found or RANK.get(status, 99) < RANK.get(found[step_id], 99):
            found[step_id] = status
    return found


def execution_graph(execution: Execution, states: dict[str, str]) -> SafeString:
    """The SVG with `data-state` on each step (a status in lower case, or `not-started`);
    "" when the execution's source no longer compiles."""
    try:
        svg = flow_svg(compiled(execution.source))
    except DefinitionError:  # a source that no longer compiles: no graph, not a 500
        return mark_safe("")

    def mark(match: re.Match) -> str:
        step_id = unescape(match.group(2)[1:-1], ENTITIES)
        state = states.get(step_id)
        name = state.lower() if state else NOT_STARTED
        return f"{match.group(1)}{match.group(2)} data-state={quoteattr(name)}>"

    return mark_safe(STEP_GROUP.sub(mark, svg))  # flow_svg escapes every text; the states are ours
