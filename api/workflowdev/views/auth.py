"""POST /auth/register, /auth/login, /auth/refresh, /auth/logout."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.auth import auth_login, auth_logout, auth_refresh
from accounts.models import Account
from accounts.services import account_create
from api.auth import session_token
from api.workflowdev.serializers import (
    AccountSerializer,
    CredentialsSerializer,
    RegisterSerializer,
    TokenSerializer,
)
from api.workflowdev.views.base import WorkflowDevAPIView
from core.errors import Forbidden


class RegisterView(WorkflowDevAPIView):
    """Open while no account exists (bootstrap); afterwards only for an authenticated admin."""

    permission_classes = [AllowAny]

    @extend_schema(
        request=RegisterSerializer,
        responses={
            201: AccountSerializer,
            403: OpenApiResponse(description="Open to anyone while no account exists; afterwards to admins only"),
            404: OpenApiResponse(description="The namespace named does not exist"),
            422: OpenApiResponse(description="A field is missing or invalid"),
        },
        summary="Register an account",
    )
    def post(self, request: Request) -> Response:
        actor = request.user if isinstance(request.user, Account) else None
        if actor is None and Account.objects.exists():
            raise Forbidden("Registration is closed; log in as an administrator to create accounts.")
        body = RegisterSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        account = account_create(
            actor=actor,
            username=data["username"],
            email=data["email"],
            password=data["password"],
            role=data["role"],
            namespace=data["namespace"] or None,
        )
        viewer = actor or account  # the bootstrap caller is the account it creates
        return Response(AccountSerializer(account, context={"viewer": viewer}).data, status=status.HTTP_201_CREATED)


class LoginView(WorkflowDevAPIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        request=CredentialsSerializer,
        responses={
            200: TokenSerializer,
            422: OpenApiResponse(description="A field is missing or invalid"),
            429: OpenApiResponse(description="Too many failed logins for the username (`too_many_attempts`)"),
        },
        summary="Log in",
    )
    def post(self, request: Request) -> Response:
        """Log in with a username and password and get a token for the `Authorization: Bearer` header."""
        body = CredentialsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(TokenSerializer(auth_login(request=request._request, **body.validated_data)).data)


class RefreshView(WorkflowDevAPIView):
    @extend_schema(request=None, responses={200: TokenSerializer}, summary="Refresh the sliding token")
    def post(self, request: Request) -> Response:
        """Get a new token with a later expiry for the current one."""
        issued = auth_refresh(token=session_token(request), account=request.user)
        return Response(TokenSerializer(issued).data)


class LogoutView(WorkflowDevAPIView):
    @extend_schema(request=None, responses={200: None}, summary="Log out (blacklist the token)")
    def post(self, request: Request) -> Response:
        """Invalidate the current token: it is refused from now on, WebSockets included."""
        auth_logout(token=session_token(request), account=request.user)
        return Response({"message": "Logged out"})
