"""The execution gauges of `/metrics`, read from the database so every process reports the same."""

from collections.abc import Iterator

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from core.metrics import REGISTRY
from executions.models import Execution


class ExecutionStatusCollector(Collector):
    """Counts executions per status from the database."""

    def describe(self) -> list:
        return []  # collecting needs the database; never do it at registration

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("millrace_executions", "Executions in the database, by status.", labels=["status"])
        counts = dict(Execution.objects.values_list("status").annotate(n=Count("id")).order_by())
        for status in Execution.Status.values:
            gauge.add_metric([status], counts.get(status, 0))
        yield gauge


def register() -> None:
    """Called once, by the app's `ready()`."""
    REGISTRY.register(ExecutionStatusCollector())
