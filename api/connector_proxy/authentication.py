"""Who may call the proxy: platform accounts, or a SpiffWorkflow backend holding the proxy API key."""

import hmac
from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.models import Account

API_KEY_HEADER = "Spiff-Connector-Proxy-Api-Key"


class ConnectorBackend:
    """The caller that proved the proxy API key: it runs http commands, never as an account."""

    is_authenticated = True
    is_active = True

    def __str__(self) -> str:
        return "connector-backend"


class ConnectorApiKeyAuthentication(BaseAuthentication):
    """`Spiff-Connector-Proxy-Api-Key` equal to MILLRACE_CONNECTOR_API_KEY (when that is set).

    A SpiffWorkflow backend sends this header and nothing else, so when
    MILLRACE_CONNECTOR_ACCOUNT names an account the key acts as that account (its roles decide
    what `millrace/RunFlow` may start); otherwise it may run only the http commands. Placed
    after the platform token classes, so a caller sending both acts as the token's account.
    """

    def authenticate(self, request: Request) -> tuple[ConnectorBackend | Account, None] | None:
        expected = settings.MILLRACE_CONNECTOR_API_KEY
        given = request.headers.get(API_KEY_HEADER)
        if not expected or given is None:
            return None
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise exceptions.AuthenticationFailed("Invalid connector proxy API key.")
        username = settings.MILLRACE_CONNECTOR_ACCOUNT
        if not username:
            return ConnectorBackend(), None
        account = Account.objects.filter(username=username, is_active=True).first()
        if account is None:
            raise exceptions.AuthenticationFailed("The account of the connector proxy API key is not available.")
        return account, None

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="millrace"'


class IsAccountOrBackend(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return isinstance(user, ConnectorBackend) or (isinstance(user, Account) and user.is_active)


class ConnectorApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.connector_proxy.authentication.ConnectorApiKeyAuthentication"
    name = "connectorApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": API_KEY_HEADER}
