"""Request metrics, labelled by the dialect that owns the path."""

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from api.routing import dialect_for_path
from core.metrics import HTTP_LATENCY, HTTP_REQUESTS


class RequestMetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        dialect = dialect_for_path(request.path_info) or "other"
        HTTP_REQUESTS.labels(dialect, request.method, str(response.status_code)).inc()
        HTTP_LATENCY.labels(dialect).observe(time.perf_counter() - started)
        return response
