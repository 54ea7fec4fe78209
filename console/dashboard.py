"""What the console's landing page shows, read for one account in a fixed number of queries."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from accounts.models import Account
from agents.errors import AgentError, agent_error
from agents.selectors import agents_with_errors
from console.workers import QueueStatus, queue_status
from executions.models import Execution, ExecutionStatus
from executions.selectors import execution_status_counts, executions_failed_recently, executions_in_progress
from flows.models import Agent

WINDOW = timedelta(hours=24)


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

    @property
    def total(self) -> int:
        return sum(item.count for item in self.by_status)


def dashboard_for(account: Account) -> Dashboard:
    """Every figure is limited to the namespaces the account may see (all for global admins)."""
    since = timezone.now() - WINDOW
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
    )
