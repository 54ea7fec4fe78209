"""Login, sliding refresh and logout with simplejwt sliding tokens (blacklisted on logout)."""

from dataclasses import dataclass
from datetime import UTC, datetime

from django.contrib.auth import authenticate
from django.db.models import Q
from django.http import HttpRequest
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import SlidingToken

from accounts.models import Account
from accounts.services import audit_record
from core.errors import NotAuthenticated


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    account: Account


def _issued(token: SlidingToken, account: Account) -> IssuedToken:
    return IssuedToken(str(token), datetime.fromtimestamp(token["exp"], tz=UTC), account)


def auth_login(*, username: str, password: str, request: HttpRequest | None = None) -> IssuedToken:
    """Log in by username or email.

    `authenticate` runs for unknown names too: ModelBackend then hashes the password anyway, so
    a wrong password takes as long whether the account exists or not (no enumeration by timing).
    With the HTTP `request`, failures count towards the login throttle (`accounts.throttling`),
    under the account's username whichever name was typed.
    """
    account = Account.objects.filter(Q(username__iexact=username) | Q(email__iexact=username)).first()
    account = authenticate(request, username=account.username if account else username, password=password)
    if account is None or not account.is_active:
        raise NotAuthenticated("Invalid username or password.")
    audit_record(
        actor=account,
        action="auth.login",
        resource_type="account",
        resource_id=account.id,
        namespace=account.default_namespace,
    )
    return _issued(SlidingToken.for_user(account), account)


def auth_refresh(*, token: SlidingToken, account: Account) -> IssuedToken:
    """Slide the token's expiry forward until its refresh lifetime ends."""
    try:
        token.check_exp(api_settings.SLIDING_TOKEN_REFRESH_EXP_CLAIM)
    except TokenError as exc:
        raise NotAuthenticated("The token can no longer be refreshed; log in again.") from exc
    token.set_exp()
    token.set_iat()
    return _issued(token, account)


def auth_logout(*, token: SlidingToken, account: Account) -> None:
    """Blacklist the token; it is refused everywhere from now on."""
    token.blacklist()
    audit_record(
        actor=account,
        action="auth.logout",
        resource_type="account",
        resource_id=account.id,
        namespace=account.default_namespace,
    )
