"""Prometheus metrics: the registry `/metrics` serves and the event metrics every process counts.

Events (executions and task runs ending, agent runs, HTTP requests) are counted where they
happen, in the server or worker process that saw them. With `PROMETHEUS_MULTIPROC_DIR` set
(before the process starts), prometheus-client keeps each process's values in files there and
a scrape sums the files of every process of the host; without it, a scrape reports the
answering process only (one process, or tests). Gauges read shared state (the database, the
broker) at scrape time, so any process reports the same; they are registered by the app that
owns the data (`executions.metrics`), so this module imports no app.

Labels never carry a namespace, flow or user name unless `MILLRACE_METRICS_DETAILED` is on:
unbounded label values would grow the series without limit.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

#: Set in the environment of every server and worker process of a host, to one directory.
MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")

EXECUTION_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600)
TASK_RUN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

#: What the process counts into; in multiprocess mode only its files are read, never this.
EVENTS = CollectorRegistry(auto_describe=True)
#: What `/metrics` serves: the events (this process's, or every process's files), the scrape-time
#: gauges and the standard collectors of the answering process.
REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "millrace_http_requests",
    "HTTP requests served, by dialect, method and status.",
    ["dialect", "method", "status"],
    registry=EVENTS,
)
HTTP_LATENCY = Histogram(
    "millrace_http_request_duration_seconds",
    "HTTP request duration by dialect.",
    ["dialect"],
    registry=EVENTS,
)
EXECUTIONS_STARTED = Counter(
    "millrace_executions_started",
    "Executions created, by origin.",
    ["origin"],
    registry=EVENTS,
)


@dataclass(frozen=True)
class EngineMetrics:
    """The engine's event metrics; their label names depend on `MILLRACE_METRICS_DETAILED`."""

    detailed: bool
    executions: Counter
    execution_duration: Histogram
    task_runs: Counter
    task_run_duration: Histogram
    agent_runs: Counter


def _engine_metrics(detailed: bool) -> EngineMetrics:
    scope = ["namespace", "flow"] if detailed else []
    return EngineMetrics(
        detailed=detailed,
        executions=Counter(
            "millrace_executions",
            "Executions that ended, by final status and origin.",
            ["status", "origin", *scope],
            registry=EVENTS,
        ),
        execution_duration=Histogram(
            "millrace_execution_duration_seconds",
            "Time from an execution's start to its end.",
            scope,
            buckets=EXECUTION_BUCKETS,
            registry=EVENTS,
        ),
        task_runs=Counter(
            "millrace_task_runs",
            "Task runs (attempts of a step) that ended, by plugin and final status.",
            ["plugin", "status", *scope],
            registry=EVENTS,
        ),
        task_run_duration=Histogram(
            "millrace_task_run_duration_seconds",
            "Time from a task run's start to its end, by plugin.",
            ["plugin", *scope],
            buckets=TASK_RUN_BUCKETS,
            registry=EVENTS,
        ),
        agent_runs=Counter(
            "millrace_agent_runs",
            "Agent runs (a check or a received message), by agent type and outcome.",
            ["type", "status", *(["namespace"] if detailed else [])],
            registry=EVENTS,
        ),
    )


_current: list[EngineMetrics] = []


def engine_metrics() -> EngineMetrics:
    """The engine's metrics for the current setting (rebuilt when a test changes it)."""
    detailed = bool(settings.MILLRACE_METRICS_DETAILED)
    if _current and _current[0].detailed == detailed:
        return _current[0]
    if _current:
        old = _current.pop()
        for metric in (old.executions, old.execution_duration, old.task_runs, old.task_run_duration, old.agent_runs):
            EVENTS.unregister(metric)
    _current.append(_engine_metrics(detailed))
    return _current[0]


def http_method(method: str | None) -> str:
    """A request's method as a label: the standard ones, anything else `other`."""
    return method if method in HTTP_METHODS else "other"


class _Events(Collector):
    """This process's event metrics (single-process mode)."""

    def describe(self) -> list:
        return []  # families appear once counted; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        engine_metrics()  # the families exist (at zero) before the first event
        yield from EVENTS.collect()


def exposition() -> bytes:
    """The Prometheus text `/metrics` answers."""
    return generate_latest(REGISTRY)


def _install() -> None:
    if MULTIPROC_DIR:
        multiprocess.MultiProcessCollector(REGISTRY, path=MULTIPROC_DIR)
    else:
        REGISTRY.register(_Events())
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        REGISTRY.register(collector)


_install()
