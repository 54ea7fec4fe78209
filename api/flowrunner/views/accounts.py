"""Accounts: admins manage the accounts of their namespaces; everyone reads and edits their own."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors, services
from accounts.models import Account
from api.flowrunner.filters import AccountFilterSet
from api.flowrunner.serializers import (
    AccountCreateSerializer,
    AccountListSerializer,
    AccountSerializer,
    AccountUpdateSerializer,
    MessageSerializer,
)
from api.flowrunner.views.base import FlowRunnerViewSet
from api.flowrunner.views.flows import FORBIDDEN
from core.errors import Forbidden


@extend_schema_view(
    list=extend_schema(
        summary="List accounts",
        description="Get a list of accounts: yours and those of the namespaces you administer (every account for "
        "a global admin), optionally of one role.",
        parameters=[
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses={200: AccountListSerializer, **FORBIDDEN},
    ),
    retrieve=extend_schema(
        summary="Get an account", description="Get details of a specific account: yours, or one you administer."
    ),
    create=extend_schema(
        summary="Create an account",
        description="Create a new account with an e-mail or a username, a password and a role. It lands in "
        "`namespace` (one you administer), else in your own default namespace. Needs the admin role.",
        request=AccountCreateSerializer,
        responses={
            201: AccountSerializer,
            **FORBIDDEN,
            404: OpenApiResponse(description="The namespace named is not one the caller administers (`not_found`)"),
            422: OpenApiResponse(description="A field is missing or invalid (`validation_error`)"),
        },
    ),
    update=extend_schema(
        summary="Update an account",
        description="Update an existing account: anyone changes their own name, e-mail and password; "
        "an admin also changes the accounts they administer and their roles.",
        request=AccountUpdateSerializer,
        responses={200: AccountSerializer},
    ),
    partial_update=extend_schema(
        summary="Update some fields of an account",
        description="Like PUT, changing only the fields given.",
        request=AccountUpdateSerializer,
        responses={200: AccountSerializer},
    ),
    destroy=extend_schema(
        summary="Delete an account",
        description="Delete an account you administer (never your own).",
        responses={200: MessageSerializer},
    ),
)
class AccountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FlowRunnerViewSet):
    serializer_class = AccountSerializer
    filterset_class = AccountFilterSet
    results_key = "accounts"
    lookup_value_regex = "[^/]+"

    queryset = Account.objects.none()  # for the schema; requests use the scoped selector

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.account_list(account=self.request.user)

    def get_object(self):
        return selectors.account_get(account=self.request.user, account_id=self.kwargs["pk"])

    def list(self, request: Request, *args, **kwargs) -> Response:
        if selectors.administered_namespace_ids(request.user) == []:
            raise Forbidden("Listing accounts needs the admin role.")
        return super().list(request, *args, **kwargs)

    def create(self, request: Request) -> Response:
        body = AccountCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        account = services.account_create(
            actor=request.user,
            username=data["username"],
            email=data["email"],
            name=data["name"],
            password=data["password"],
            role=data["role"],
            namespace=data["namespace"] or None,
        )
        return Response(AccountSerializer(account, context={"request": request}).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: str, partial: bool = False) -> Response:
        body = AccountUpdateSerializer(data=request.data, partial=partial)
        body.is_valid(raise_exception=True)
        account = services.account_update(actor=request.user, account=self.get_object(), **body.validated_data)
        return Response(AccountSerializer(account, context={"request": request}).data)

    def partial_update(self, request: Request, pk: str) -> Response:
        return self.update(request, pk, partial=True)

    def destroy(self, request: Request, pk: str) -> Response:
        services.account_delete(actor=request.user, account=self.get_object())
        return Response({"message": "Account deleted successfully"})
