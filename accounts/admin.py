"""Console pages for namespaces, memberships, accounts, API tokens and the audit log.

Writes go through `accounts.services`, which enforce the role rules again; the forms below
only offer choices the services would accept, so a refused choice is a form error, not a 500.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.forms import Field
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from accounts import services
from accounts.admin_scoping import (
    NamespaceListFilter,
    NamespaceScopedAdmin,
    OwnedRecordsDeleteMixin,
    ParentScopedInline,
    adopt,
)
from accounts.models import Account, ApiToken, AuditEntry, Membership, Namespace
from accounts.roles import Role
from accounts.selectors import (
    account_list,
    administered_namespace_ids,
    audit_list,
    can_administer,
    email_visible,
    namespace_list,
)
from core.errors import MillraceError

NEW_TOKEN_ATTR = "_millrace_new_api_token"
FIELDS_WITHOUT_SERVICE = ("username", "default_namespace", "is_active", "is_staff", "is_superuser")


def visible_accounts(account: Account) -> QuerySet[Account]:
    """The accounts a caller may see and pick: everyone for global admins, else `account_list`."""
    if account.is_global_admin:
        return Account.objects.all()
    return Account.objects.filter(pk__in=account_list(account=account).values("pk"))


def administered_accounts(account: Account) -> Q:
    """`can_administer` as a filter: non-global accounts holding roles only where the caller is admin.

    The default namespace, when set, and every membership must be in a namespace the caller
    administers, and the account must hold a role somewhere.
    """
    ids = administered_namespace_ids(account) or []
    elsewhere = Membership.objects.filter(account_id=OuterRef("pk")).exclude(namespace_id__in=ids)
    inside = Membership.objects.filter(account_id=OuterRef("pk"), namespace_id__in=ids)
    home = Q(default_namespace_id__in=ids) | Q(default_namespace__isnull=True) & Exists(inside)
    return Q(is_superuser=False) & ~Q(role=Role.ADMIN) & home & ~Exists(elsewhere)


class MembershipInlineForm(forms.ModelForm):
    """An existing membership changes role only; moving it to another account is a new membership."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "account" in self.fields and not self.instance._state.adding:
            self.fields["account"].disabled = True


class MembershipInline(ParentScopedInline):
    model = Membership
    form = MembershipInlineForm
    fields = ("account", "role", "created_at")
    readonly_fields = ("created_at",)

    def has_view_permission(self, request: HttpRequest, obj: Namespace | None = None) -> bool:
        """Member lists are for the namespace's admins, not for everyone who can read it."""
        return self.parent_admin().has_change_permission(request, obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("account")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Field:
        if db_field.name == "account":
            kwargs["queryset"] = visible_accounts(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Namespace)
class NamespaceAdmin(NamespaceScopedAdmin):
    """Members see their namespaces; namespace admins edit them; only global admins add or delete."""

    edit_role = Role.ADMIN
    list_display = ("name", "description", "created_at", "updated_at")
    search_fields = ("name", "description")
    fields = ("name", "description", "retention_days", "created_at", "updated_at")
    readonly_fields = ("created_at", "updated_at")
    inlines = (MembershipInline,)

    def namespace_id_of(self, obj: Namespace) -> Any:
        return obj.pk

    def scope(self, request: HttpRequest, queryset: QuerySet, minimum: str) -> QuerySet:
        return queryset.filter(pk__in=namespace_list(account=request.user, minimum=minimum).values("pk"))

    def get_readonly_fields(self, request: HttpRequest, obj: Namespace | None = None) -> tuple[str, ...]:
        return ("name", *self.readonly_fields) if obj else self.readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_global_admin

    def has_delete_permission(self, request: HttpRequest, obj: Namespace | None = None) -> bool:
        return request.user.is_global_admin

    def save_model(self, request: HttpRequest, obj: Namespace, form: Any, change: bool) -> None:
        if change:
            services.namespace_update(
                actor=request.user, namespace=obj, description=obj.description, retention_days=obj.retention_days
            )
        else:
            created = services.namespace_create(actor=request.user, name=obj.name, description=obj.description)
            if obj.retention_days is not None:
                created = services.namespace_update(
                    actor=request.user,
                    namespace=created,
                    description=created.description,
                    retention_days=obj.retention_days,
                )
            adopt(obj, created)

    def delete_model(self, request: HttpRequest, obj: Namespace) -> None:
        services.namespace_delete(actor=request.user, namespace=obj)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        memberships = formset.save(commit=False)
        for membership in formset.deleted_objects:
            services.membership_remove(actor=request.user, namespace=form.instance, account=membership.account)
        for membership in memberships:
            saved = services.membership_set(
                actor=request.user, namespace=form.instance, account=membership.account, role=membership.role
            )
            adopt(membership, saved)


@admin.register(Membership)
class MembershipAdmin(NamespaceScopedAdmin):
    view_role = Role.ADMIN
    edit_role = Role.ADMIN
    list_display = ("account", "namespace", "role", "created_at")
    list_filter = (NamespaceListFilter, "role")
    search_fields = ("account__username", "account__email", "namespace__name")
    list_select_related = ("account", "namespace")

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        """Searching by e-mail would tell a namespace admin whose e-mail it is."""
        if request.user.is_global_admin:
            return self.search_fields
        return tuple(field for field in self.search_fields if not field.endswith("email"))

    def get_readonly_fields(self, request: HttpRequest, obj: Membership | None = None) -> tuple[str, ...]:
        return ("account", "namespace", "created_at") if obj else ("created_at",)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Field:
        if db_field.name == "account":
            kwargs["queryset"] = visible_accounts(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        saved = services.membership_set(actor=request.user, namespace=obj.namespace, account=obj.account, role=obj.role)
        adopt(obj, saved)

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        services.membership_remove(actor=request.user, namespace=obj.namespace, account=obj.account)


class UniqueEmailMixin:
    """The services refuse a taken email with a 409; say so on the form instead."""

    def clean_email(self) -> str:
        email = self.cleaned_data.get("email", "")
        if email and Account.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("An account with this email already exists.")
        return email


class AccountCreationForm(UniqueEmailMixin, UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = Account
        fields = ("username", "email", "name", "role", "default_namespace")


class AccountChangeForm(UniqueEmailMixin, UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = Account


@admin.register(Account)
class AccountAdmin(OwnedRecordsDeleteMixin, UserAdmin):
    """Accounts by role: everyone sees themselves, namespace admins the accounts of their namespaces.

    Only global admins may give the role `admin` (which makes a global admin), and only
    superusers may touch superusers or the `is_staff`/`is_superuser` flags.
    """

    namespace_field = "default_namespace"
    view_role = Role.ADMIN
    form = AccountChangeForm
    add_form = AccountCreationForm
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "password1", "password2", "name", "email", "role", "default_namespace"),
            },
        ),
    )
    list_display = ("username", "name", "email", "role", "default_namespace", "is_active", "is_superuser", "last_login")
    list_filter = ("role", "is_active", "is_superuser", NamespaceListFilter)
    list_select_related = ("default_namespace",)
    search_fields = ("username", "name", "email")
    ordering = ("username",)

    def get_list_display(self, request: HttpRequest) -> tuple[str, ...]:
        """E-mail for global admins only (a namespace admin sees usernames and roles)."""
        if request.user.is_global_admin:
            return self.list_display
        return tuple(field for field in self.list_display if field != "email")

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        if request.user.is_global_admin:
            return self.search_fields
        return tuple(field for field in self.search_fields if field != "email")

    def get_fieldsets(self, request: HttpRequest, obj: Account | None = None) -> Any:
        if obj is None:
            return self.add_fieldsets
        flags = ("is_active", "is_staff", "is_superuser") if request.user.is_superuser else ("is_active",)
        profile = ("name", "email") if email_visible(viewer=request.user, account=obj) else ("name",)
        return (
            (None, {"fields": ("username", "password")}),
            ("Profile", {"fields": profile}),
            ("Access", {"fields": ("role", "default_namespace", *flags)}),
            ("Dates", {"fields": ("last_login", "date_joined", "updated_at")}),
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Account | None = None) -> tuple[str, ...]:
        dates = ("last_login", "date_joined", "updated_at")
        return ("role", *dates) if obj is not None and obj.pk == request.user.pk else dates

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if request.user.is_global_admin:
            return queryset
        return queryset.filter(pk__in=visible_accounts(request.user).values("pk"))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return True

    def has_view_permission(self, request: HttpRequest, obj: Account | None = None) -> bool:
        if obj is None or obj.pk == request.user.pk:
            return True
        return visible_accounts(request.user).filter(pk=obj.pk).exists()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_global_admin or bool(administered_namespace_ids(request.user))

    def has_change_permission(self, request: HttpRequest, obj: Account | None = None) -> bool:
        if obj is None:
            return self.has_add_permission(request)
        if obj.is_superuser and not request.user.is_superuser:
            return False
        return can_administer(request.user, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Account | None = None) -> bool:
        if obj is not None and obj.pk == request.user.pk:
            return False
        return self.has_change_permission(request, obj)

    def formfield_for_choice_field(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Field:
        if db_field.name == "role" and not request.user.is_global_admin:
            kwargs["choices"] = [(value, label) for value, label in Role.choices if value != Role.ADMIN]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Field:
        if db_field.name == "default_namespace":
            kwargs["queryset"] = namespace_list(account=request.user, minimum=Role.ADMIN)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        """One's own password changes on the site's form, which asks for the current one (as the API does).

        Resetting someone else's needs no current password; either way the new hash revokes
        the account's login tokens.
        """
        if unquote(id) == str(request.user.pk):
            return HttpResponseRedirect(reverse("admin:password_change"))
        return super().user_change_password(request, id, form_url)

    def save_model(self, request: HttpRequest, obj: Account, form: Any, change: bool) -> None:
        actor = request.user
        if not change:
            account = services.account_create(
                actor=actor,
                password=form.cleaned_data["password1"],
                username=obj.username,
                email=obj.email,
                name=obj.name,
                role=obj.role,
                namespace=obj.default_namespace.name if obj.default_namespace else None,
            )
            adopt(obj, account)
            return
        if {"name", "email", "role"} & set(form.changed_data):
            stored = Account.objects.get(pk=obj.pk)
            services.account_update(actor=actor, account=stored, name=obj.name, email=obj.email, role=obj.role)
        rest = [name for name in FIELDS_WITHOUT_SERVICE if name in form.changed_data]
        if rest:
            obj.save(update_fields=rest)
            services.audit_record(
                actor=actor,
                action="account.update",
                resource_type="account",
                resource_id=obj.pk,
                namespace=obj.default_namespace,
                summary={"via": "admin", "fields": rest},
            )

    def delete_model(self, request: HttpRequest, obj: Account) -> None:
        services.account_delete(actor=request.user, account=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for account in queryset:
            services.account_delete(actor=request.user, account=account)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Personal tokens: created here (the raw value is shown once), revoked, never edited or shown again.

    Everyone manages their own tokens; namespace admins also those of accounts they administer.
    """

    deleted_with_parent = True
    list_display = ("name", "account", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("name", "prefix", "account__username")
    list_select_related = ("account",)
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke",)

    def get_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> tuple[str, ...]:
        return ("account", "name") if obj is None else ("name", "account", *self.readonly_fields)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        account = request.user
        if account.is_global_admin:
            return queryset
        return queryset.filter(
            Q(account=account) | Q(account__in=Account.objects.filter(administered_accounts(account)))
        )

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"account": request.user.pk}

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Field:
        if db_field.name == "account":
            account = request.user
            kwargs["queryset"] = (
                Account.objects.all()
                if account.is_global_admin
                else Account.objects.filter(Q(pk=account.pk) | administered_accounts(account))
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return True

    def has_view_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return obj is None or obj.account_id == request.user.pk or can_administer(request.user, obj.account)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return True

    def has_change_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return True

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        token, raw = services.api_token_create(actor=request.user, account=obj.account, name=obj.name)
        adopt(obj, token)
        setattr(request, NEW_TOKEN_ATTR, raw)

    def response_add(self, request: HttpRequest, obj: ApiToken, post_url_continue: str | None = None) -> Any:
        """The raw token on this one page, never stored anywhere: not in the session, not in a message."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Token “{obj.name}” created",
            "token": obj,
            "raw": getattr(request, NEW_TOKEN_ATTR),
        }
        return TemplateResponse(request, "admin/accounts/apitoken/created.html", context)  # never cached (admin)

    def get_urls(self) -> list:
        revoke = self.admin_site.admin_view(require_POST(self.revoke_view))
        return [path("<path:object_id>/revoke/", revoke, name="accounts_apitoken_revoke"), *super().get_urls()]

    def revoke_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The token page's "Revoke" button, through the same service as the list action."""
        token = self.get_object(request, object_id)
        if token is None or not self.has_view_permission(request, token):
            raise Http404("Token not found.")
        try:
            services.api_token_revoke(actor=request.user, token=token)
        except MillraceError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(request, f"Revoked {token}.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:accounts_apitoken_change", args=[token.pk]))

    @admin.action(description="Revoke selected tokens", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        revoked = 0
        for token in queryset.filter(revoked_at__isnull=True).select_related("account"):
            try:
                services.api_token_revoke(actor=request.user, token=token)
            except MillraceError as exc:
                self.message_user(request, f"{token}: {exc.message}", messages.ERROR)
            else:
                revoked += 1
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit log, read-only for everyone; namespace admins see their namespaces' entries."""

    list_display = ("created_at", "actor_name", "action", "resource_type", "resource_id", "namespace")
    list_filter = ("action", "resource_type", "namespace", "created_at")
    search_fields = ("actor_name", "action", "resource_type", "resource_id")
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return audit_list(account=request.user)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        account = request.user
        if account.is_global_admin:
            return True
        ids = administered_namespace_ids(account)
        if obj is None:
            return bool(ids)
        return Namespace.objects.filter(pk__in=ids, name=obj.namespace).exists()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False
