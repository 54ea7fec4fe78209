"""workflowdev request and response shapes (camelCase), split by concern."""

from api.workflowdev.serializers.auth import (
    AccountSerializer,
    AuditEntrySerializer,
    CredentialsSerializer,
    RegisterSerializer,
    TokenSerializer,
)

__all__ = [
    "AccountSerializer",
    "AuditEntrySerializer",
    "CredentialsSerializer",
    "RegisterSerializer",
    "TokenSerializer",
]
