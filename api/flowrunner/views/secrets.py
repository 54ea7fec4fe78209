"""Account secrets: list (names only), create, delete. Values are write-only.

Only the account itself or an admin over it sees them; to anyone else the account does
not exist (404), as everywhere else in the platform.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Account
from accounts.selectors import account_get
from api.flowrunner.serializers import (
    MessageSerializer,
    SecretCreateSerializer,
    SecretListSerializer,
    SecretSerializer,
)
from api.flowrunner.views.base import FlowRunnerAPIView
from api.flowrunner.views.flows import ERRORS
from vault.selectors import account_secret_get, account_secret_list
from vault.services import secret_delete, secret_set


def secret_owner(actor: Account, account_id: str) -> Account:
    """The account whose secrets `actor` may manage; 404 before the body is read otherwise.

    `account_secret_list` applies the rule (itself, or an account it administers); its
    queryset is lazy, so asking costs no query for the secrets themselves.
    """
    account = account_get(account=actor, account_id=account_id)
    account_secret_list(actor=actor, account=account)
    return account


class SecretListView(FlowRunnerAPIView):
    @extend_schema(
        operation_id="list_secrets",
        summary="List an account's secrets (names only)",
        responses={200: SecretListSerializer, **ERRORS},
    )
    def get(self, request: Request, account_id: str) -> Response:
        """Get a list of secrets for an account: their keys and dates, never their values."""
        account = secret_owner(request.user, account_id)
        secrets = account_secret_list(actor=request.user, account=account)
        return Response({"secrets": SecretSerializer(secrets, many=True).data})

    @extend_schema(
        operation_id="create_secret",
        summary="Create a secret",
        request=SecretCreateSerializer,
        responses={
            201: SecretSerializer,
            409: OpenApiResponse(description="A secret with this key exists (`conflict`)"),
            422: OpenApiResponse(description="Bad key or empty value (`validation_error`)"),
        },
    )
    def post(self, request: Request, account_id: str) -> Response:
        """Create a new secret for an account. The value is stored encrypted and can be used by the account's flows,
        never read back."""
        account = secret_owner(request.user, account_id)
        body = SecretCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        secret = secret_set(
            actor=request.user,
            account=account,
            name=body.validated_data["key"],
            value=body.validated_data["value"],
            create_only=True,
        )
        return Response(SecretSerializer(secret).data, status=status.HTTP_201_CREATED)


class SecretDetailView(FlowRunnerAPIView):
    @extend_schema(
        operation_id="delete_secret", summary="Delete a secret", responses={200: MessageSerializer, **ERRORS}
    )
    def delete(self, request: Request, account_id: str, key: str) -> Response:
        """Delete a secret of an account."""
        account = secret_owner(request.user, account_id)
        secret = account_secret_get(actor=request.user, account=account, name=key)
        secret_delete(actor=request.user, secret=secret)
        return Response({"message": "Secret deleted successfully"})
