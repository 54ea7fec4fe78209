"""POST /api/v1/auth/login, /refresh, /logout."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.auth import auth_login, auth_logout, auth_refresh
from api.auth import session_token
from api.flowrunner.serializers import LoginSerializer, MessageSerializer, TokenSerializer
from api.flowrunner.views.base import FlowRunnerAPIView


class LoginView(FlowRunnerAPIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        request=LoginSerializer,
        responses={
            200: TokenSerializer,
            422: OpenApiResponse(description="Username or password missing"),
            429: OpenApiResponse(description="Too many failed logins for the username (`too_many_attempts`)"),
        },
        summary="Log in",
    )
    def post(self, request: Request) -> Response:
        """Authenticate with a username and password and get a JWT token."""
        body = LoginSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        issued = auth_login(request=request._request, **body.validated_data)
        return Response(TokenSerializer(issued).data)


class RefreshView(FlowRunnerAPIView):
    @extend_schema(request=None, responses={200: TokenSerializer}, summary="Refresh the sliding token")
    def post(self, request: Request) -> Response:
        """Refresh an existing JWT token: get a new token with a later expiry."""
        issued = auth_refresh(token=session_token(request), account=request.user)
        return Response(TokenSerializer(issued).data)


class LogoutView(FlowRunnerAPIView):
    @extend_schema(request=None, responses={200: MessageSerializer}, summary="Log out (blacklist the token)")
    def post(self, request: Request) -> Response:
        """Invalidate the current token: it is refused from now on, WebSockets included."""
        auth_logout(token=session_token(request), account=request.user)
        return Response({"message": "Logged out successfully"})
