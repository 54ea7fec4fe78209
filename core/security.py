"""The Content-Security-Policy header (settings.MILLRACE_CONTENT_SECURITY_POLICY).

Set on every response that has none, the dialects' error pages included: the console, the API
docs and the landing page run only scripts served from this origin (no inline script, no
event-handler attribute), so an injected `<script>` or `onclick=` never runs.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = settings.MILLRACE_CONTENT_SECURITY_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.policy and HEADER not in response:
            response[HEADER] = self.policy
        return response
