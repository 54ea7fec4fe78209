"""Prometheus metrics: per-process request counters and database-wide execution gauges."""

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "millrace_http_requests",
    "HTTP requests served, by dialect, method and status.",
    ["dialect", "method", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "millrace_http_request_duration_seconds",
    "HTTP request duration by dialect.",
    ["dialect"],
    registry=REGISTRY,
)
EXECUTIONS_STARTED = Counter(
    "millrace_executions_started",
    "Executions started by this process, by origin.",
    ["origin"],
    registry=REGISTRY,
)


class ExecutionStatusCollector(Collector):
    """Counts executions per status from the database, so every process reports the same."""

    def describe(self) -> list:
        return []  # collecting needs the database; never do it at registration

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from django.db.models import Count

        from executions.models import Execution

        gauge = GaugeMetricFamily("millrace_executions", "Executions in the database, by status.", labels=["status"])
        counts = dict(Execution.objects.values_list("status").annotate(n=Count("id")).order_by())
        for status in Execution.Status.values:
            gauge.add_metric([status], counts.get(status, 0))
        yield gauge


REGISTRY.register(ExecutionStatusCollector())
