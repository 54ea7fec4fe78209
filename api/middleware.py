"""Errors raised outside the views in the owning dialect's shape, the request body cap, and
request metrics and log lines labelled by the dialect that owns the path."""

import logging
import time
from collections.abc import Callable
from io import BytesIO

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty

from api.errors import api_error_from_exception, error_for_status
from api.registry import DIALECTS
from api.routing import dialect_for_path
from api.uploads import body_limit, is_upload
from core.logfilters import redact
from core.metrics import HTTP_LATENCY, HTTP_REQUESTS, http_method

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
request_logger = logging.getLogger("millrace.requests")


class DialectErrorMiddleware:
    """Re-render Django's own HTML error pages (unknown URL, 405, 500) on a dialect's paths."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code < 400 or response.get("Content-Type", "").startswith("application/json"):
            return response
        name = dialect_for_path(request.path_info)
        if name is None:
            return response
        return DIALECTS[name].http_response(error_for_status(response.status_code))

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        name = dialect_for_path(request.path_info)
        if name is None:
            return None
        return DIALECTS[name].http_response(api_error_from_exception(exception))


class BodySizeLimitMiddleware:
    """Refuse bodies over MILLRACE_MAX_BODY_BYTES with 413, declared or streamed (webhooks included);
    file uploads (`api.uploads`) have the cap of a stored file instead."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in BODY_METHODS and self._too_big(request):
            name = dialect_for_path(request.path_info) or "workflowdev"
            limit = body_limit(request.path_info, request.META.get("CONTENT_TYPE", ""))
            message = f"The request body exceeds {limit} bytes."
            return DIALECTS[name].http_response(error_for_status(413, message))
        return self.get_response(request)

    @staticmethod
    def _too_big(request: HttpRequest) -> bool:
        """Declared length first; otherwise read at most limit + 1 bytes, never the whole stream.

        Under ASGI, `api.asgi_limits.BodySizeLimit` already stopped chunked bodies; this covers
        WSGI and the test client. A body within the cap is kept the way `HttpRequest.body`
        keeps it (`_body` and a fresh `_stream`), so views read it as usual. An upload is not read
        here: Django parses it into temporary files.
        """
        content_type = request.META.get("CONTENT_TYPE", "")
        limit = body_limit(request.path_info, content_type)
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            return True
        if is_upload(request.path_info, content_type):
            # left to stream to disk: Django reads no further than the declared length, and an
            # undeclared (chunked) upload was counted by `BodySizeLimit` as it arrived
            return False
        if hasattr(request, "_body"):
            return len(request._body) > limit
        try:
            data = request.read(limit + 1)
        except RequestDataTooBig:
            return True
        if len(data) > limit:
            return True
        request._body, request._stream = data, BytesIO(data)
        return False


class RequestMetricsMiddleware:
    """Count every request and log one line for it: method, path (no query string; credentials in
    the path redacted), status, duration, dialect and the authenticated account's id.

    The line stands for Django's own "Not Found"/"Internal Server Error" lines, so the response is
    marked logged; an unhandled exception's traceback is still logged once, by whoever caught it
    (`api.errors` on a dialect's paths, Django's handler elsewhere), before the response gets here.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        seconds = time.perf_counter() - started
        dialect = dialect_for_path(request.path_info) or "other"
        method = http_method(request.method)
        HTTP_REQUESTS.labels(dialect, method, str(response.status_code)).inc()
        HTTP_LATENCY.labels(dialect).observe(seconds)
        path, user_id = redact(request.path), _user_id(request)
        duration_ms = round(seconds * 1000, 1)
        request_logger.info(
            "%s %s %s %sms dialect=%s user=%s",
            method,
            path,
            response.status_code,
            duration_ms,
            dialect,
            user_id or "-",
            extra={
                "method": method,
                "path": path,
                "status": response.status_code,
                "duration_ms": duration_ms,
                "dialect": dialect,
                "user_id": user_id,
            },
        )
        response._has_been_logged = True  # Django's `log_response` skips it: the line above says it
        return response


def _user_id(request: HttpRequest) -> str | None:
    """The id of the account the request authenticated as, without loading a session nobody read."""
    user = request.__dict__.get("user")
    if user is None or (isinstance(user, SimpleLazyObject) and user._wrapped is empty):
        return None
    if not getattr(user, "is_authenticated", False):
        return None
    ident = getattr(user, "pk", None)  # a connector backend authenticates without an account
    return str(ident) if ident is not None else None
