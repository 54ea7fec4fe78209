"""Console pages for secrets and the key-value store.

Secrets are view-only and never show their value, ciphertext or nonce: setting a value needs
the vault's encryption service, which a later change adds to the console.
"""

import json

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.text import Truncator

from core.admin_scoping import VIEW_ONLY, NamespaceListFilter, NamespaceScopedAdmin
from vault.models import KeyValue, Secret


@admin.register(Secret)
class SecretAdmin(NamespaceScopedAdmin):
    """Namespace secrets by role; an account's own secrets are visible to it (and global admins)."""

    edit_actions = VIEW_ONLY
    deleted_with_parent = True
    list_display = ("name", "owner", "key_id", "created_at", "updated_at")
    list_filter = (NamespaceListFilter,)
    search_fields = ("name", "description")
    list_select_related = ("namespace", "account")
    date_hierarchy = "created_at"
    fields = ("name", "description", "namespace", "account", "key_id", "created_by", "created_at", "updated_at")

    @admin.display(description="owner")
    def owner(self, obj: Secret) -> str:
        return f"namespace {obj.namespace}" if obj.namespace_id else f"account {obj.account}"

    def scope(self, request: HttpRequest, queryset: QuerySet, minimum: str) -> QuerySet:
        account = request.user
        if account.is_global_admin:
            return queryset
        return super().scope(request, queryset, minimum) | queryset.filter(account=account)

    def has_view_permission(self, request: HttpRequest, obj: Secret | None = None) -> bool:
        if obj is not None and obj.namespace_id is None:
            return request.user.is_global_admin or obj.account_id == request.user.pk
        return super().has_view_permission(request, obj)


@admin.register(KeyValue)
class KeyValueAdmin(NamespaceScopedAdmin):
    list_display = ("key", "namespace", "preview", "expires_at", "updated_at")
    list_filter = (NamespaceListFilter,)
    search_fields = ("key",)
    list_select_related = ("namespace",)
    readonly_fields = ("created_at", "updated_at")

    @admin.display(description="value")
    def preview(self, obj: KeyValue) -> str:
        return Truncator(json.dumps(obj.value)).chars(80)
