"""One authentication stack for every dialect: personal API tokens, sliding JWTs, open access."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Exists, QuerySet
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import SlidingToken
from rest_framework_simplejwt.utils import get_md5_hash_password

from accounts.models import Account, ApiToken
from accounts.services import API_TOKEN_PREFIX, api_token_digest

_LAST_USED_RESOLUTION = timedelta(minutes=1)
BEARER_SUBPROTOCOL = "bearer"


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


def subprotocol_bearer(subprotocols: Sequence[str]) -> tuple[str | None, str | None]:
    """The subprotocol to accept and the token of a WebSocket offering `bearer, <token>`.

    Browsers cannot set `Authorization` on a WebSocket; `new WebSocket(url, ["bearer", token])`
    sends `Sec-WebSocket-Protocol: bearer, <token>`. The server must accept one offered
    subprotocol: `bearer` (as spelt), never the token. (None, None) when `bearer` is not offered.
    """
    names = [name.strip() for name in subprotocols]
    for index, name in enumerate(names):
        if name.lower() == BEARER_SUBPROTOCOL:
            token = names[index + 1] if index + 1 < len(names) else ""
            return name, token or None
    return None, None


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


@dataclass(frozen=True)
class Credential:
    """What a long-lived connection (a WebSocket) authenticated with, to check it again while open.

    `kind` is `jwt` (key: the token's jti, `password_digest`: its password-hash claim),
    `api_token` (key: the token's digest), `session` (key: the session key) or `open`.
    """

    kind: str
    account_id: Any
    key: str = ""
    password_digest: str = ""


def authenticate_raw_token(raw: str) -> tuple[Account, Credential]:
    """The active account of a login JWT or a personal API token, and its credential.

    Raises AuthenticationFailed or TokenError as the HTTP authentication classes do.
    """
    if raw.startswith(API_TOKEN_PREFIX):
        account = account_for_api_token(raw)
        return account, Credential("api_token", account.pk, key=api_token_digest(raw))
    account, token = login_token_account(raw)
    credential = Credential(
        "jwt",
        account.pk,
        key=str(token[api_settings.JTI_CLAIM]),
        password_digest=str(token.get(api_settings.REVOKE_TOKEN_CLAIM, "")),
    )
    return account, credential


class _BlacklistCheckedWithAccount(SlidingToken):
    """A sliding token whose blacklist check `login_token_account` makes in its account query."""

    def check_blacklist(self) -> None:
        pass


def _invalid_token(message: str) -> InvalidToken:
    """simplejwt's refusal of a token, in its shape (one message: one token class)."""
    found = {"token_class": SlidingToken.__name__, "token_type": SlidingToken.token_type, "message": message}
    return InvalidToken({"detail": "Given token not valid for any token type", "messages": [found]})


def login_token_account(raw: str) -> tuple[Account, SlidingToken]:
    """The active account of a login JWT and the validated token, in one query.

    simplejwt reads the blacklist in one query and the account in another, for every request;
    here one query reads both, and the refusals are simplejwt's: an invalid, expired or
    blacklisted token, an unknown or disabled account, a password changed since the login.
    """
    try:
        token = _BlacklistCheckedWithAccount(raw.encode())
    except TokenError as error:
        raise _invalid_token(error.args[0]) from error
    account_id = token.get(api_settings.USER_ID_CLAIM)
    if account_id is None:
        raise InvalidToken("Token contained no recognizable user identification")
    try:
        account = (
            _accounts_marked_blacklisted(token[api_settings.JTI_CLAIM])
            .filter(**{api_settings.USER_ID_FIELD: account_id})
            .first()
        )
    except (ValueError, ValidationError) as error:  # not an id at all: no account has it
        raise exceptions.AuthenticationFailed("User not found", code="user_not_found") from error
    if account is not None and account.blacklisted:
        raise _invalid_token("Token is blacklisted")
    if account is None:
        raise exceptions.AuthenticationFailed("User not found", code="user_not_found")
    if not account.is_active:
        raise exceptions.AuthenticationFailed("User is inactive", code="user_inactive")
    if not _password_unchanged(account.password, token.get(api_settings.REVOKE_TOKEN_CLAIM)):
        raise exceptions.AuthenticationFailed("The user's password has been changed.", code="password_changed")
    return account, token


def credential_current(credential: Credential) -> bool:
    """Whether a JWT or API token credential still holds, in one indexed query.

    A JWT stops holding once blacklisted (logout), once its account's password changes, or
    once the account is disabled; an API token once revoked or its account disabled. Other
    kinds are the caller's to check (sessions) or always hold (open access).
    """
    if credential.kind == "api_token":
        return ApiToken.objects.filter(digest=credential.key, revoked_at__isnull=True, account__is_active=True).exists()
    if credential.kind != "jwt":
        return True
    row = (
        _accounts_marked_blacklisted(credential.key)
        .filter(pk=credential.account_id, is_active=True)
        .values_list("password", "blacklisted")
        .first()
    )
    if row is None or row[1]:
        return False
    return _password_unchanged(row[0], credential.password_digest)


def _accounts_marked_blacklisted(jti: str) -> QuerySet[Account]:
    """Accounts, each with `blacklisted`: whether the login token `jti` is (one query for both)."""
    return Account.objects.annotate(blacklisted=Exists(BlacklistedToken.objects.filter(token__jti=jti)))


def _password_unchanged(password_hash: str, digest: str | None) -> bool:
    """Whether a login token's password digest is the account's password's (tokens carry one:
    CHECK_REVOKE_TOKEN), so a password change revokes every earlier token."""
    return not api_settings.CHECK_REVOKE_TOKEN or get_md5_hash_password(password_hash) == digest


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
    """simplejwt sliding tokens, the blacklist and the account read in one query."""

    def authenticate(self, request: Request) -> tuple[Account, SlidingToken] | None:  # type: ignore[override]
        raw = bearer_token(authentication.get_authorization_header(request))
        if raw is None:
            return None
        return login_token_account(raw)


class OpenAccessAuthentication(authentication.BaseAuthentication):
    """With MILLRACE_AUTH_REQUIRED=false, an anonymous caller acts as the first global admin."""

    def authenticate(self, request: Request) -> tuple[Account, None] | None:
        if settings.MILLRACE_AUTH_REQUIRED:
            return None
        account = Account.objects.filter(role="admin", is_active=True).order_by("date_joined").first()
        return (account, None) if account else None
