"""Prometheus metrics: the registry `/metrics` serves and the per-process counters.

Gauges read from the database are registered by the app that owns the table
(`executions.metrics`), so this module imports no app."""

from prometheus_client import CollectorRegistry, Counter, Histogram

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
