"""Request helpers for authentication shared by every dialect (dialects never import each other)."""

from rest_framework.request import Request
from rest_framework_simplejwt.tokens import SlidingToken

from core.errors import BadRequest


def session_token(request: Request) -> SlidingToken:
    """The sliding JWT the request was authenticated with (API tokens cannot be refreshed)."""
    if not isinstance(request.auth, SlidingToken):
        raise BadRequest("Only a login token can be refreshed or logged out; API tokens are revoked instead.")
    return request.auth
