"""What the console's landing page shows, read for one account in a fixed number of queries.

The page and its panels (`admin:dashboard_panels`, which the page's script reloads every
`REFRESH_SECONDS`) are built from the same `Dashboard`.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.safestring import SafeString

from accounts.models import Account
from agents.errors import AgentError, agent_error
from agents.selectors import agents_with_errors
from console.charts import STACK_ORDER, durations_svg, timeline_svg
from console.selectors import (
    DURATION_SAMPLE,
    TOP_FLOWS,
    WINDOWS,
    Bucket,
    FlowDurations,
    Timeline,
    WaitingApprovals,
    Window,
    approvals_waiting,
    execution_timeline,
    flow_durations,
)
from console.workers import QueueStatus, queue_status
from executions.models import Execution, ExecutionStatus
from executions.selectors import execution_status_counts, executions_failed_recently, executions_in_progress
from flows.models import Agent

WINDOW = timedelta(hours=24)
REFRESH_SECONDS = 30


@dataclass(frozen=True)
class StatusCount:
    status: str
    count: int

    @property
    def label(self) -> str:
        """`TIMED OUT`: a card's label may wrap at its space."""
        return self.status.replace("_", " ")


@dataclass(frozen=True)
class FailingAgent:
    """An agent whose last run failed, with the error split from the time it was stored behind."""

    agent: Agent
    error: AgentError


@dataclass(frozen=True)
class Dashboard:
    since: datetime
    by_status: list[StatusCount]
    in_progress: list[Execution]
    failures: list[Execution]
    failing_agents: list[FailingAgent]
    queue: QueueStatus
    window: Window
    timeline: Timeline
    durations: list[FlowDurations]
    approvals: WaitingApprovals
    read_at: datetime

    @property
    def total(self) -> int:
        return sum(item.count for item in self.by_status)

    @property
    def windows(self) -> list[Window]:
        return list(WINDOWS.values())

    @property
    def timeline_chart(self) -> SafeString:
        return timeline_svg(self.timeline)

    @property
    def durations_chart(self) -> SafeString:
        return durations_svg(self.durations)

    @property
    def durations_help(self) -> str:
        return (
            f"From start to end of the finished runs of the {TOP_FLOWS} flows with the most executions in the period "
            f"(their latest {DURATION_SAMPLE:,} runs at most); a flow without a finished run has no bar."
        )

    @property
    def timeline_totals(self) -> list[StatusCount]:
        """The legend: every status of the chart, in its stacking order, with its total."""
        totals = self.timeline.status_totals()
        return [StatusCount(status, totals[status]) for status in STACK_ORDER]

    @property
    def timeline_rows(self) -> list[tuple[Bucket, list[int]]]:
        """The chart as a table: each bucket with its counts in the legend's order."""
        return [(bucket, [bucket.counts[status] for status in STACK_ORDER]) for bucket in self.timeline.buckets]


def dashboard_for(account: Account, window: Window) -> Dashboard:
    """Every figure is limited to the namespaces the account may see (all for global admins);
    the charts cover `window`."""
    now = timezone.now()
    since = now - WINDOW
    counts = execution_status_counts(account=account, since=since)
    return Dashboard(
        since=since,
        by_status=[StatusCount(status, counts.get(status, 0)) for status in ExecutionStatus.values],
        in_progress=list(executions_in_progress(account=account)),
        failures=list(executions_failed_recently(account=account)),
        failing_agents=[
            FailingAgent(agent, agent_error(agent.last_error)) for agent in agents_with_errors(account=account)
        ],
        queue=queue_status(),
        window=window,
        timeline=execution_timeline(account=account, window=window, now=now),
        durations=flow_durations(account=account, window=window, now=now),
        approvals=approvals_waiting(account=account),
        read_at=now,
    )
