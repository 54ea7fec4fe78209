"""Secrets (FlowRunner account secrets, workflowdev credentials) and the namespaced KV store."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import Namespace


class Secret(models.Model):
    """A value encrypted with AES-256-GCM, owned by an account or by a namespace."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="secrets"
    )
    namespace = models.ForeignKey(Namespace, null=True, blank=True, on_delete=models.CASCADE, related_name="secrets")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    ciphertext = models.BinaryField()
    nonce = models.BinaryField(max_length=12)
    key_id = models.CharField(max_length=16, default="", blank=True, help_text="Which key encrypted it.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(account__isnull=False, namespace__isnull=True)
                | Q(account__isnull=True, namespace__isnull=False),
                name="secret_exactly_one_owner",
            ),
            models.UniqueConstraint(
                fields=["account", "name"], condition=Q(account__isnull=False), name="secret_unique_per_account"
            ),
            models.UniqueConstraint(
                fields=["namespace", "name"],
                condition=Q(namespace__isnull=False),
                name="secret_unique_per_namespace",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class KeyValue(models.Model):
    """A JSON value under a key in a namespace, optionally expiring."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="kv_entries")
    key = models.CharField(max_length=255)
    value = models.JSONField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["namespace__name", "key"]
        verbose_name = "key-value entry"
        verbose_name_plural = "key-value entries"
        constraints = [models.UniqueConstraint(fields=["namespace", "key"], name="kv_unique_key_per_namespace")]

    def __str__(self) -> str:
        return f"{self.namespace.name}/{self.key}"
