"""Console pages for secrets and the key-value store, written through `vault.services`.

A secret's value is write-only: the form takes a new value in a password field that is never
filled back in, and nothing shows the value, its ciphertext or its nonce, in a page, in the
change history (which names changed fields only) or in the audit log. Namespace secrets
(credentials) need the editor role there; an account's own secrets belong to the account and
to whoever administers it, as through the API.
"""

import json
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.utils import timezone
from django.utils.text import Truncator

from accounts.admin import administered_accounts
from accounts.admin_scoping import NamespaceListFilter, NamespaceScopedAdmin, adopt
from accounts.models import Account
from accounts.roles import Role
from accounts.selectors import can_administer, namespace_list
from core.errors import MillraceError, NotFound
from vault.masking import MIN_SECRET_LENGTH
from vault.models import KeyValue, Secret
from vault.services import (
    SECRET_NAME,
    credential_update,
    kv_entry_delete,
    kv_entry_set,
    secret_delete,
    secret_set,
)

NOT_SAVED = "_vault_not_saved"


def secret_owners(account: Account) -> QuerySet[Account]:
    """Accounts whose own secrets the caller may set: itself, and those it administers."""
    if account.is_global_admin:
        return Account.objects.all()
    return Account.objects.filter(Q(pk=account.pk) | administered_accounts(account))


class SecretForm(forms.ModelForm):
    """Name, owner and a new value; the value is required to create and to rename."""

    value = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only: stored encrypted, never shown again. On a change, leave it empty to keep the value.",
    )

    class Meta:
        model = Secret
        fields = ("name", "description", "namespace", "account")

    def _get_validation_exclusions(self) -> set[str]:
        """`clean` checks the owner in words (exactly one; a name once per owner): the model's
        constraints on it would add their raw names ("Constraint ... is violated.") beside that."""
        return {*super()._get_validation_exclusions(), "namespace", "account"}

    def clean_name(self) -> str:
        name = self.cleaned_data.get("name", "")
        if not SECRET_NAME.match(name):
            raise forms.ValidationError("Letters, digits, '_', '.' and '-', starting with a letter or '_'.")
        return name

    def clean_value(self) -> str:
        value = self.cleaned_data.get("value", "")
        if value and len(value) < MIN_SECRET_LENGTH:
            raise forms.ValidationError(f"At least {MIN_SECRET_LENGTH} characters (shorter ones cannot be masked).")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        adding = self.instance._state.adding
        namespace = data.get("namespace") if adding else self.instance.namespace
        account = data.get("account") if adding else self.instance.account
        name = data.get("name")
        if adding and (namespace is None) == (account is None):
            self.add_error(None, "Choose exactly one owner: a namespace or an account.")
        if not data.get("value") and (adding or (name and name != self.instance.name)):
            self.add_error("value", "A new secret, or a renamed one, needs its value.")
        owner = {"namespace": namespace} if namespace is not None else {"account": account}
        if (
            name
            and (namespace or account)
            and Secret.objects.filter(name=name, **owner).exclude(pk=self.instance.pk).exists()
        ):
            self.add_error("name", f"A secret named '{name}' already exists for this owner.")
        return data


class ServiceSaveMixin:
    """A write refused by a service after the form's checks (a race, a role lost meanwhile)
    is a message on the same form, not a 500 or a false "saved"."""

    def refused(self, request: HttpRequest, exc: MillraceError) -> None:
        setattr(request, NOT_SAVED, True)
        self.message_user(request, exc.message, messages.ERROR)

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None if getattr(request, NOT_SAVED, False) else super().log_addition(request, obj, message)

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None if getattr(request, NOT_SAVED, False) else super().log_change(request, obj, message)

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: str | None = None) -> Any:
        if getattr(request, NOT_SAVED, False):
            return HttpResponseRedirect(request.get_full_path())
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request: HttpRequest, obj: Any) -> Any:
        if getattr(request, NOT_SAVED, False):
            return HttpResponseRedirect(request.get_full_path())
        return super().response_change(request, obj)


@admin.register(Secret)
class SecretAdmin(ServiceSaveMixin, NamespaceScopedAdmin):
    """Namespace secrets by role; an account's own secrets for it and those who administer it."""

    form = SecretForm
    deleted_with_parent = True
    list_display = ("name", "owner", "description", "key_id", "updated_at")
    list_filter = (NamespaceListFilter, ("account", admin.EmptyFieldListFilter), "updated_at")
    search_fields = ("name", "description")
    list_select_related = ("namespace", "account")
    date_hierarchy = "created_at"
    readonly_fields = ("key_id", "created_by", "created_at", "updated_at")

    @admin.display(description="owner")
    def owner(self, obj: Secret) -> str:
        return f"namespace {obj.namespace}" if obj.namespace_id else f"account {obj.account}"

    def get_fields(self, request: HttpRequest, obj: Secret | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("name", "description", "namespace", "account", "value")
        owner = "namespace" if obj.namespace_id else "account"
        return ("name", "description", owner, "value", *self.readonly_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Secret | None = None) -> tuple[str, ...]:
        """A secret keeps its owner: the ciphertext is bound to it."""
        return self.readonly_fields if obj is None else ("namespace", "account", *self.readonly_fields)

    def scope(self, request: HttpRequest, queryset: QuerySet, minimum: str) -> QuerySet:
        account = request.user
        if account.is_global_admin:
            return queryset
        return super().scope(request, queryset, minimum) | queryset.filter(account__in=secret_owners(account))

    def may_edit(self, request: HttpRequest, obj: Secret) -> bool:
        if obj.namespace_id is None:
            return obj.account_id == request.user.pk or can_administer(request.user, obj.account)
        return self.role_allows(request, obj, self.edit_role)

    def has_view_permission(self, request: HttpRequest, obj: Secret | None = None) -> bool:
        if obj is not None and obj.namespace_id is None:
            return self.may_edit(request, obj)
        return super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Everyone may keep secrets of their own account; namespace ones need an editor role."""
        return True

    def has_change_permission(self, request: HttpRequest, obj: Secret | None = None) -> bool:
        return self.may_edit(request, obj) if obj is not None else True

    def has_delete_permission(self, request: HttpRequest, obj: Secret | None = None) -> bool:
        return self.has_change_permission(request, obj)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "account":
            kwargs["queryset"] = secret_owners(request.user)
            return admin.ModelAdmin.formfield_for_foreignkey(self, db_field, request, **kwargs)
        if db_field.name == "namespace":
            kwargs["queryset"] = namespace_list(account=request.user, minimum=Role.EDITOR)
            return admin.ModelAdmin.formfield_for_foreignkey(self, db_field, request, **kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Secret, form: Any, change: bool) -> None:
        """Through `secret_set`: encrypted, bound to owner and name, audited without the value."""
        data = form.cleaned_data
        stored = Secret.objects.select_related("namespace", "account").get(pk=obj.pk) if change else None
        try:
            if stored is not None and not data["value"]:
                self.describe(request, stored, data.get("description", ""))
                return
            saved = secret_set(
                actor=request.user,
                name=data["name"],
                value=data["value"],
                namespace=stored.namespace if stored else data.get("namespace"),
                account=stored.account if stored else data.get("account"),
                description=data.get("description", ""),
                create_only=stored is None,
                secret=stored,
            )
        except MillraceError as exc:
            self.refused(request, exc)
            return
        adopt(obj, saved)

    def describe(self, request: HttpRequest, secret: Secret, description: str) -> None:
        """A new description alone: the value (and its ciphertext) stays as it is."""
        if secret.namespace_id is not None:
            credential_update(actor=request.user, secret=secret, description=description)
        elif secret.description != description:
            secret.description = description
            secret.save(update_fields=["description", "updated_at"])
            self.audit(request, secret, "update", ["description"])

    def delete_model(self, request: HttpRequest, obj: Secret) -> None:
        secret_delete(actor=request.user, secret=obj)


class KeyValueForm(forms.ModelForm):
    """A JSON value and a time to live in seconds (empty: it never expires)."""

    ttl = forms.IntegerField(
        required=False, min_value=1, label="Expires in (seconds)", help_text="Empty: the entry never expires."
    )

    class Meta:
        model = KeyValue
        fields = ("namespace", "key", "value")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        expires_at = self.instance.expires_at
        if expires_at is not None and "ttl" in self.fields:
            self.fields["ttl"].initial = max(int((expires_at - timezone.now()).total_seconds()), 1)
        if expires_at is not None and expires_at <= timezone.now() and "value" in self.fields:
            self.initial["value"] = None  # gone for flows and the API: its old value is not shown
            self.fields["value"].help_text = "This entry has expired; saving gives the key a new value."

    def clean_value(self) -> Any:
        value = self.cleaned_data.get("value")
        size = len(json.dumps(value, default=str).encode())
        if size > settings.MILLRACE_KV_MAX_VALUE_BYTES:
            raise forms.ValidationError(f"{size} bytes; the limit is {settings.MILLRACE_KV_MAX_VALUE_BYTES}.")
        return value


@admin.register(KeyValue)
class KeyValueAdmin(ServiceSaveMixin, NamespaceScopedAdmin):
    form = KeyValueForm
    list_display = ("key", "namespace", "preview", "expires_at", "updated_at")
    list_filter = (NamespaceListFilter, ("expires_at", admin.EmptyFieldListFilter), "updated_at")
    search_fields = ("key",)
    list_select_related = ("namespace",)
    readonly_fields = ("expires_at", "created_at", "updated_at")

    def get_fields(self, request: HttpRequest, obj: KeyValue | None = None) -> tuple[str, ...]:
        return ("namespace", "key", "value", "ttl", *self.readonly_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: KeyValue | None = None) -> tuple[str, ...]:
        """A key stays where it is; a new key is a new entry."""
        return ("namespace", "key", *self.readonly_fields) if obj is not None else self.readonly_fields

    @admin.display(description="value")
    def preview(self, obj: KeyValue) -> str:
        """An expired entry is gone for flows and the API (a sweep deletes it later): no value here either."""
        if obj.expires_at is not None and obj.expires_at <= timezone.now():
            return "(expired)"
        return Truncator(json.dumps(obj.value)).chars(80)

    def save_model(self, request: HttpRequest, obj: KeyValue, form: Any, change: bool) -> None:
        """Through `kv_entry_set`, as the API's `PUT /kv/{namespace}/{key}`."""
        data = form.cleaned_data
        namespace = obj.namespace if change else data["namespace"]
        key = obj.key if change else data["key"]
        try:
            saved = kv_entry_set(actor=request.user, namespace=namespace, key=key, value=data["value"], ttl=data["ttl"])
        except MillraceError as exc:
            self.refused(request, exc)
            return
        adopt(obj, saved)

    def delete_model(self, request: HttpRequest, obj: KeyValue) -> None:
        try:
            kv_entry_delete(actor=request.user, namespace=obj.namespace, key=obj.key)
        except NotFound:  # already expired: the API no longer sees it, the row just goes
            super().delete_model(request, obj)
