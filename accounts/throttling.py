"""Login throttling with django-axes: counted by username, whatever the address; failures audited.

axes records every failed `authenticate` in its database tables (shared by every process) and,
once a username has `AXES_FAILURE_LIMIT` failures within `AXES_COOLOFF_TIME`, refuses it, the
right password included, until that time has passed since the last counted failure. The
lockout answer itself (429 with Retry-After) is `api.login_throttle`'s.
"""

from datetime import timedelta
from math import ceil
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.contrib.auth.signals import user_login_failed
from django.db.models import Max, Q
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import Account
from accounts.services import audit_record

USERNAME = "username"


def login_key(request: HttpRequest | None, credentials: dict[str, Any] | None) -> str | None:
    """The name failures are counted under (`AXES_USERNAME_CALLABLE`): trimmed and case-folded.

    Login matches names case-insensitively, so `Alice` and `ALICE` must share one counter;
    unknown names fold the same way, so a lockout tells nothing about whether a name exists.
    """
    name = (credentials or {}).get(USERNAME)
    if not isinstance(name, str) or not name.strip():
        return None
    return name.strip().casefold()


class LoginThrottleBackend(AxesStandaloneBackend):
    """axes' check before the password is: a locked username is refused whatever its password.

    Only logins made for an HTTP request are throttled; `authenticate` without a request (the
    test client's `login`, scripts) is not an attack surface and axes would refuse it outright.
    """

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def login_locked_out(request: HttpRequest) -> bool:
    """Whether axes refused this request's login because the username was already locked.

    The failure that reaches the limit is answered as a failure (axes counted it, so
    `axes_failures_since_start` is set); the attempts after it are the refused ones.
    """
    return bool(getattr(request, "axes_locked_out", False)) and getattr(request, "axes_failures_since_start", 0) is None


def login_retry_after(*, username: str | None) -> int:
    """Seconds until a locked username may log in again (at least 1)."""
    cool_off: timedelta = get_cool_off() or timedelta(0)
    last = AccessAttempt.objects.filter(username=username).aggregate(last=Max("attempt_time"))["last"]
    if last is None:
        return max(1, ceil(cool_off.total_seconds()))
    return max(1, ceil((last + cool_off - timezone.now()).total_seconds()))


@receiver(user_login_failed, dispatch_uid="accounts.audit_login_failed")
def audit_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """Record every failed login (API or console) in the audit log, never the password.

    Django hands over the credentials with the password already masked; only the name is kept.
    """
    name = credentials.get(USERNAME) if isinstance(credentials.get(USERNAME), str) else ""
    account = Account.objects.filter(Q(username__iexact=name) | Q(email__iexact=name)).first() if name else None
    audit_record(
        actor=None,
        action="auth.login_failed",
        resource_type="account",
        resource_id=account.id if account else "",
        namespace=account.default_namespace if account else None,
        summary={
            USERNAME: name[:150],
            "locked": login_locked_out(request) if request is not None else False,
            "path": request.path if request is not None else "",
        },
    )
