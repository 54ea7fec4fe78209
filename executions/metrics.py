"""What an execution's or a task run's end reports (counters, histograms, the end log line), and
the gauges `/metrics` reads at scrape time from the database and the broker.

`transitions.transition`, the only status writer, calls `status_written` for every move; the
report waits for the transaction's commit, so a write that is rolled back (a stale deferred
write, a failed step's savepoint) is neither counted nor logged.
"""

import logging
from collections.abc import Iterator
from datetime import datetime

from django.db import transaction
from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from accounts.models import Namespace
from connectors.registry import get_plugin
from core.health import queue_depth, worker_clusters
from core.metrics import REGISTRY, engine_metrics
from executions.models import TERMINAL_EXECUTION_STATUSES, Execution, TaskRun, TaskStatus

logger = logging.getLogger("millrace.executions")

#: Final statuses of a task run (SKIPPED included: the step ended without running).
TERMINAL_TASK_STATUSES = frozenset(
    {TaskStatus.SUCCESS, TaskStatus.FAILED, TaskStatus.SKIPPED, TaskStatus.CANCELLED, TaskStatus.TIMED_OUT}
)
#: Origins the code gives executions; anything else is counted as `other`.
ORIGINS = frozenset(
    {
        "agent",
        "api",
        "backfill",
        "cli",
        "connector",
        "console",
        "flow",
        "flow_agent",
        "replay",
        "schedule",
        "subflow",
        "webhook",
        "workflowsvc",
    }
)


def plugin_label(plugin_type: str) -> str:
    """A registered plugin's id (aliases folded), `other` for anything else: bounded cardinality."""
    plugin = get_plugin(plugin_type) if plugin_type else None
    return plugin.id if plugin is not None else "other"


def _seconds(started: datetime | None, finished: datetime | None) -> float | None:
    if started is None or finished is None:
        return None
    return max((finished - started).total_seconds(), 0.0)


def _namespace_name(namespace_id: object) -> str:
    return Namespace.objects.filter(pk=namespace_id).values_list("name", flat=True).first() or ""


def status_written(obj: Execution | TaskRun) -> None:
    """Report an end once the transaction that wrote it commits (nothing for other moves)."""
    if isinstance(obj, TaskRun):
        if obj.status in TERMINAL_TASK_STATUSES:
            report = _task_run_ended(obj)
            transaction.on_commit(report, robust=True)  # a metrics fault never fails a commit
    elif obj.status in TERMINAL_EXECUTION_STATUSES:
        report = _execution_ended(obj)
        transaction.on_commit(report, robust=True)  # a metrics fault never fails a commit


def _execution_ended(execution: Execution):
    """The report of an execution's end, with its values taken now (the object may change)."""
    ident, flow, status = str(execution.pk), execution.flow_name, str(execution.status)
    origin = execution.origin if execution.origin in ORIGINS else "other"
    seconds = _seconds(execution.started_at, execution.finished_at)
    namespace_id = execution.namespace_id

    def report() -> None:
        metrics = engine_metrics()
        scope = [_namespace_name(namespace_id), flow] if metrics.detailed else []
        metrics.executions.labels(status, origin, *scope).inc()
        if seconds is not None:
            (metrics.execution_duration.labels(*scope) if scope else metrics.execution_duration).observe(seconds)
        logger.info(
            "Execution %s of flow %s ended %s in %s",
            ident,
            flow,
            status,
            "-" if seconds is None else f"{seconds:.3f}s",
            extra={
                "execution_id": ident,
                "flow": flow,
                "status": status,
                "duration_ms": None if seconds is None else round(seconds * 1000),
            },
        )

    return report


def _task_run_ended(run: TaskRun):
    plugin, status = plugin_label(run.plugin_type), str(run.status)
    seconds = _seconds(run.started_at, run.finished_at)
    execution_id = run.execution_id

    def report() -> None:
        metrics = engine_metrics()
        scope: list[str] = []
        if metrics.detailed:
            row = Execution.objects.filter(pk=execution_id).values_list("namespace__name", "flow_name").first()
            scope = list(row) if row else ["", ""]
        metrics.task_runs.labels(plugin, status, *scope).inc()
        if seconds is not None:
            metrics.task_run_duration.labels(plugin, *scope).observe(seconds)

    return report


class EngineGauges(Collector):
    """Executions per status (database), tasks waiting in the broker and live workers (heartbeats)."""

    def describe(self) -> list:
        return []  # collecting needs the database; never do it at registration

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("millrace_executions", "Executions in the database, by status.", labels=["status"])
        counts = dict(Execution.objects.values_list("status").annotate(n=Count("id")).order_by())
        for status in Execution.Status.values:
            gauge.add_metric([status], counts.get(status, 0))
        yield gauge
        depth = queue_depth()
        if depth is not None:  # an unreachable broker leaves the gauge out rather than report 0
            yield GaugeMetricFamily("millrace_queue_depth", "Tasks waiting in the broker's queue.", value=depth)
        clusters = worker_clusters(max_age_seconds=60)
        yield GaugeMetricFamily(
            "millrace_workers",
            "Worker processes of the task-queue clusters whose heartbeat is under a minute old.",
            value=sum(cluster.workers for cluster in clusters),
        )


def register() -> None:
    """Called once, by the app's `ready()`."""
    REGISTRY.register(EngineGauges())
