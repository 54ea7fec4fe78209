"""The answer to a login refused by the throttle (`accounts.throttling`): 429 with Retry-After.

On a dialect's paths the body is that dialect's error (`too_many_attempts`); elsewhere (the
console's `/admin/login/`) a page. axes marks the request during `authenticate`; this
middleware, in place of axes' own `AxesMiddleware`, turns the view's answer into the 429.
"""

from collections.abc import Callable
from math import ceil

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from accounts.throttling import login_key, login_locked_out, login_retry_after
from api.errors import ApiError
from api.registry import DIALECTS
from api.routing import dialect_for_path

TOO_MANY_ATTEMPTS = "too_many_attempts"


def lockout_response(request: HttpRequest) -> HttpResponse:
    """429 with `Retry-After` (seconds): the dialect's error shape on its paths, else the console's page."""
    username = login_key(request, getattr(request, "axes_credentials", None))
    retry_after = login_retry_after(username=username)
    name = dialect_for_path(request.path_info)
    if name is not None:
        message = f"Too many failed logins for this account; try again in {retry_after} seconds."
        error = ApiError(429, TOO_MANY_ATTEMPTS, message, {"retry_after": retry_after})
        response = DIALECTS[name].http_response(error)
    else:
        context = {**admin.site.each_context(request), "retry_minutes": ceil(retry_after / 60)}
        response = TemplateResponse(request, "admin/login_locked.html", context, status=429).render()
    response["Retry-After"] = str(retry_after)
    return response


class LoginLockoutMiddleware:
    """Replace the answer to a login that axes refused as locked with `lockout_response`.

    axes' `AxesMiddleware` does the same but, run as async middleware under ASGI, hands its
    lockout callable the wrong arguments; a sync middleware has one path, always right.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if login_locked_out(request):
            return lockout_response(request)
        return response
