"""Accounts, namespaces (tenants), memberships, personal API tokens and the audit log."""

import uuid
from typing import Any

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import RegexValidator
from django.db import models

from accounts.roles import Role

namespace_name_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$",
    "Use letters, digits, '_', '-' and '.', starting with a letter or digit.",
)


DEFAULT_NAMESPACE = "default"
"""The namespace of the first account, and of accounts made without one (see `AccountManager`)."""


class NamespaceManager(models.Manager["Namespace"]):
    def get_default(self) -> "Namespace":
        """The `default` namespace, created when missing."""
        namespace, _ = self.get_or_create(
            name=DEFAULT_NAMESPACE, defaults={"description": "Home of accounts created without a namespace."}
        )
        return namespace


class Namespace(models.Model):
    """A tenant: every flow, execution, agent, credential and KV entry belongs to one."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True, validators=[namespace_name_validator])
    description = models.TextField(blank=True, default="")
    retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Days ended executions are kept (empty: MILLRACE_RETENTION_DAYS; 0: forever).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = NamespaceManager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AccountManager(UserManager):
    """Django's manager; accounts it creates (`createsuperuser`, the shell) get a default namespace.

    Without one, an account has no namespace to create flows or accounts in. Superusers also
    get the role `admin`, so every dialect shows them as the global admins they are.
    """

    def create_user(self, username: str, email: str | None = None, password: str | None = None, **extra: Any):
        return super().create_user(username, email, password, **self._with_namespace(extra))

    def create_superuser(self, username: str, email: str | None = None, password: str | None = None, **extra: Any):
        extra.setdefault("role", Role.ADMIN)
        return super().create_superuser(username, email, password, **self._with_namespace(extra))

    def _with_namespace(self, extra: dict[str, Any]) -> dict[str, Any]:
        if extra.get("default_namespace") is None and extra.get("default_namespace_id") is None:
            extra["default_namespace"] = Namespace.objects.db_manager(self._db).get_default()
        return extra


class Account(AbstractUser):
    """A person or client. `role` applies in `default_namespace`; `admin` makes a global admin."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200, blank=True, default="")
    email = models.EmailField(blank=True, default="")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    default_namespace = models.ForeignKey(
        Namespace, null=True, blank=True, on_delete=models.SET_NULL, related_name="default_for"
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = AccountManager()

    class Meta:
        ordering = ["username"]
        indexes = [models.Index(fields=["email"])]

    def __str__(self) -> str:
        return self.username

    @property
    def is_global_admin(self) -> bool:
        return self.is_superuser or self.role == Role.ADMIN


class Membership(models.Model):
    """A role for an account in a namespace other than (or besides) its default one."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "namespace"], name="membership_unique_account_namespace")
        ]

    def __str__(self) -> str:
        return f"{self.account} in {self.namespace} as {self.role}"


class ApiToken(models.Model):
    """A personal, non-expiring API token. Only its SHA-256 digest is stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="The first characters, to recognise a token.")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AuditEntry(models.Model):
    """One write made through a service. Names are copied so the entry outlives its subjects."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    actor = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_name = models.CharField(max_length=150, blank=True, default="")
    action = models.CharField(max_length=64)
    resource_type = models.CharField(max_length=64)
    resource_id = models.CharField(max_length=64, blank=True, default="")
    namespace = models.CharField(max_length=100, blank=True, default="", db_index=True)
    summary = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["action", "created_at"])]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.resource_type} {self.resource_id}"
