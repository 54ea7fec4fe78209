"""The dashboard's aggregate reads: executions per time bucket and status, run durations per
flow, and the approvals waiting for a decision, each scoped to the caller's namespaces and
each one query whatever the number of executions.

Buckets are cut by the database (`TruncHour`/`TruncDay` in UTC, grouped with the status), so
a window costs one row per bucket and status. Percentiles are taken in Python from the
durations of the window's latest finished runs of the busiest flows, at most
`DURATION_SAMPLE` of them: the same on SQLite and PostgreSQL, and bounded on a busy
installation (a flow's figures then describe its latest runs).
"""

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDay, TruncHour

from accounts.models import Account
from accounts.selectors import scope_to_namespaces
from executions.models import Approval, Execution, ExecutionStatus

DURATION_SAMPLE = 10_000
TOP_FLOWS = 8


@dataclass(frozen=True)
class Window:
    """A chart's period: `buckets` buckets of `step`, the last one holding `now`."""

    key: str
    label: str
    step: timedelta
    buckets: int

    def start(self, now: datetime) -> datetime:
        """The first bucket's start: the current hour (or day) minus `buckets - 1` steps, in UTC."""
        now = now.astimezone(UTC)
        current = now.replace(minute=0, second=0, microsecond=0)
        if self.step >= timedelta(days=1):
            current = current.replace(hour=0)
        return current - self.step * (self.buckets - 1)


WINDOWS = {
    "24h": Window("24h", "last 24 hours", timedelta(hours=1), 24),
    "7d": Window("7d", "last 7 days", timedelta(days=1), 7),
}
DEFAULT_WINDOW = WINDOWS["24h"]


def window_named(key: str | None) -> Window:
    """The window a `?window=` value names; the default for a missing or unknown one."""
    return WINDOWS.get(key or "", DEFAULT_WINDOW)


@dataclass(frozen=True)
class Bucket:
    start: datetime
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Timeline:
    window: Window
    buckets: list[Bucket]

    @property
    def total(self) -> int:
        return sum(bucket.total for bucket in self.buckets)

    def status_totals(self) -> dict[str, int]:
        """Executions of the whole window per status, every status present."""
        return {status: sum(b.counts[status] for b in self.buckets) for status in ExecutionStatus.values}


def execution_timeline(*, account: Account, window: Window, now: datetime) -> Timeline:
    """Executions created in `window`, per bucket and status; buckets without any are zeros."""
    start = window.start(now)
    trunc = TruncDay if window.step >= timedelta(days=1) else TruncHour
    rows = (
        scope_to_namespaces(Execution.objects.all(), account=account)
        .filter(created_at__gte=start)
        .annotate(bucket=trunc("created_at", tzinfo=UTC))
        .values("bucket", "status")
        .annotate(count=Count("id"))
        .order_by()
    )
    found: dict[tuple[datetime, str], int] = {}
    for row in rows:
        found[(row["bucket"].astimezone(UTC), row["status"])] = row["count"]
    buckets = []
    for index in range(window.buckets):
        begins = start + window.step * index
        buckets.append(Bucket(begins, {status: found.get((begins, status), 0) for status in ExecutionStatus.values}))
    return Timeline(window, buckets)


@dataclass(frozen=True)
class FlowDurations:
    namespace: str
    flow_name: str
    runs: int  # executions created in the window
    finished: int  # of which the durations were taken (finished, within the sample)
    p50: float | None  # seconds
    p95: float | None


def percentile(ordered: list[float], fraction: float) -> float | None:
    """Linear interpolation between the closest ranks, as PostgreSQL's `percentile_cont`."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def flow_durations(
    *, account: Account, window: Window, now: datetime, top: int = TOP_FLOWS, sample: int = DURATION_SAMPLE
) -> list[FlowDurations]:
    """The `top` flows with the most executions created in `window` (most first), with the
    median and 95th percentile of their finished runs' durations (started to finished)."""
    scoped = scope_to_namespaces(Execution.objects.all(), account=account).filter(created_at__gte=window.start(now))
    busiest = list(
        scoped.values("namespace_id", "namespace__name", "flow_name")
        .annotate(runs=Count("id"))
        .order_by("-runs", "namespace__name", "flow_name")[:top]
    )
    if not busiest:
        return []
    which = Q()
    for row in busiest:
        which |= Q(namespace_id=row["namespace_id"], flow_name=row["flow_name"])
    timed = (
        scoped.filter(which, started_at__isnull=False, finished_at__isnull=False)
        .order_by("-created_at")
        .values_list("namespace_id", "flow_name", "started_at", "finished_at")[:sample]
    )
    seconds: dict[tuple[int, str], list[float]] = defaultdict(list)
    for namespace_id, flow_name, started, finished in timed:
        seconds[(namespace_id, flow_name)].append(max((finished - started).total_seconds(), 0.0))
    result = []
    for row in busiest:
        ordered = sorted(seconds.get((row["namespace_id"], row["flow_name"]), []))
        result.append(
            FlowDurations(
                namespace=row["namespace__name"],
                flow_name=row["flow_name"],
                runs=row["runs"],
                finished=len(ordered),
                p50=percentile(ordered, 0.5),
                p95=percentile(ordered, 0.95),
            )
        )
    return result


@dataclass(frozen=True)
class PendingApproval:
    approval: Approval
    message: str  # the gate's question as the engine rendered it (secrets masked)


@dataclass(frozen=True)
class WaitingApprovals:
    pending: int  # approvals waiting for a decision
    executions: int  # the executions they hold
    oldest: list[PendingApproval]  # the longest-waiting few


def approvals_waiting(*, account: Account, limit: int = 5) -> WaitingApprovals:
    """Pending approvals in the caller's namespaces: their count and the `limit` oldest."""
    pending = scope_to_namespaces(
        Approval.objects.filter(status=Approval.Status.PENDING), account=account, field="execution__namespace"
    )
    counts = pending.aggregate(pending=Count("id"), executions=Count("execution_id", distinct=True))
    oldest = (
        pending.select_related("task_run", "execution__namespace")
        .defer("execution__source", "execution__outputs", "task_run__outputs", "task_run__state")
        .order_by("created_at", "id")[:limit]
    )
    return WaitingApprovals(
        pending=counts["pending"],
        executions=counts["executions"],
        oldest=[PendingApproval(approval, _message(approval)) for approval in oldest],
    )


def _message(approval: Approval) -> str:
    inputs = approval.task_run.inputs
    return str(inputs.get("message", "")) if isinstance(inputs, dict) else ""
