"""DRF permission: a request must come from an account. Roles are checked by the services."""

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.models import Account


class IsAccount(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, Account) and request.user.is_active
