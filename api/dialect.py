"""A dialect's error shape, applied to DRF views, Django-level errors and the body-size guard."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpResponse
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from accounts.permissions import IsAccount
from api.errors import ApiError, api_error_from_exception


@dataclass(frozen=True)
class Dialect:
    name: str
    error_body: Callable[[ApiError], dict[str, Any]]

    def http_response(self, error: ApiError) -> HttpResponse:
        """A plain Django response, for errors raised outside DRF (404 of the URL conf, 413, 500)."""
        response = HttpResponse(
            json.dumps(self.error_body(error)), status=error.status, content_type="application/json"
        )
        if error.auth_header:
            response["WWW-Authenticate"] = error.auth_header
        return response

    def exception_handler(self, exc: Exception, context: dict[str, Any]) -> Response:
        error = api_error_from_exception(exc)
        headers = {"WWW-Authenticate": error.auth_header} if error.auth_header else None
        return Response(self.error_body(error), status=error.status, headers=headers)


# Gives a DRF view its dialect's exception handler, and requires an account unless the view says
# otherwise (explicitly here, not through the settings' default, so a view's access is visible in
# the code and a changed default cannot open it). A comment, not a docstring: drf-spectacular
# would show an inherited docstring as the description of every operation without its own.
class DialectViewMixin:
    dialect: Dialect
    permission_classes: list[type[BasePermission]] = [IsAccount]

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response]:
        return self.dialect.exception_handler
