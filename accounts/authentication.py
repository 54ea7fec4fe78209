"""One authentication stack for every dialect: personal API tokens, sliding JWTs, open access."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication

from accounts.models import Account, ApiToken
from accounts.services import API_TOKEN_PREFIX, api_token_digest

_LAST_USED_RESOLUTION = timedelta(minutes=1)


def bearer_token(header: bytes | str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not header:
        return None
    if isinstance(header, bytes):
        header = header.decode("latin-1")
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return None
    return parts[1]


def account_for_api_token(raw: str) -> Account:
    """The account of an active personal token; raises AuthenticationFailed otherwise."""
    token = ApiToken.objects.select_related("account").filter(digest=api_token_digest(raw)).first()
    if token is None:
        raise exceptions.AuthenticationFailed("Invalid API token.")
    if token.revoked_at is not None:
        raise exceptions.AuthenticationFailed("This API token has been revoked.")
    if not token.account.is_active:
        raise exceptions.AuthenticationFailed("This account is disabled.")
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_RESOLUTION:
        ApiToken.objects.filter(id=token.id).update(last_used_at=now)
    return token.account


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """Personal API tokens (`mr_...`), ActiveWorkflow style: they never expire, they can be revoked."""

    def authenticate(self, request: Request) -> tuple[Account, ApiToken] | None:
        raw = bearer_token(authentication.get_authorization_header(request))
        if raw is None or not raw.startswith(API_TOKEN_PREFIX):
            return None
        return account_for_api_token(raw), None

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="millrace"'


class SlidingJWTAuthentication(JWTAuthentication):
    """simplejwt sliding tokens; blacklisted tokens are refused by the token class itself."""

    def authenticate(self, request: Request):  # type: ignore[override]
        raw = bearer_token(authentication.get_authorization_header(request))
        if raw is None:
            return None
        validated = self.get_validated_token(raw.encode())
        return self.get_user(validated), validated


class OpenAccessAuthentication(authentication.BaseAuthentication):
    """With MILLRACE_AUTH_REQUIRED=false, an anonymous caller acts as the first global admin."""

    def authenticate(self, request: Request) -> tuple[Account, None] | None:
        if settings.MILLRACE_AUTH_REQUIRED:
            return None
        account = Account.objects.filter(role="admin", is_active=True).order_by("date_joined").first()
        return (account, None) if account else None
