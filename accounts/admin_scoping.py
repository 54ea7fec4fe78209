"""Namespace scoping for the operator console.

Django's per-model permissions are not used: an account's role in a namespace decides what it
sees and may do there, the same rule every API dialect applies (DIALECTS.md, "Authentication
and roles"). Querysets, object permissions, foreign-key choices and list filters all go through
the helpers below, so an object outside the caller's namespaces is never listed, searched,
offered as a choice or opened by URL (the admin answers a missing object with a redirect).
"""

from typing import Any
from uuid import UUID

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import QuerySet
from django.forms import Field
from django.http import HttpRequest

from accounts.models import Account, Namespace
from accounts.roles import Role, at_least
from accounts.selectors import namespace_ids_for, namespace_list, role_in, scope_to_namespaces
from accounts.services import audit_record

ALL_EDITS = frozenset({"add", "change", "delete"})
VIEW_ONLY: frozenset[str] = frozenset()


def editable_choices(account: Account, model: type[models.Model], minimum: str) -> QuerySet | None:
    """Rows of `model` the account may attach to: namespaces, or rows with a `namespace` key,
    where it holds `minimum`. None for models that are not namespaced."""
    if model is Namespace:
        return namespace_list(account=account, minimum=minimum)
    try:
        field = model._meta.get_field("namespace")
    except FieldDoesNotExist:
        return None
    if field.related_model is not Namespace:
        return None
    return scope_to_namespaces(model._default_manager.select_related("namespace"), account=account, minimum=minimum)


def adopt(target: models.Model, saved: models.Model) -> None:
    """Turn the admin's unsaved instance into the row a service wrote.

    The admin keeps using its own instance after `save_model` (change log, redirect, messages),
    so it must carry the saved row's key and values.
    """
    for field in saved._meta.concrete_fields:
        setattr(target, field.attname, getattr(saved, field.attname))
    target._state.adding = False
    target._state.db = saved._state.db


class NamespaceListFilter(admin.SimpleListFilter):
    """A namespace filter offering only the namespaces the caller may see in that admin.

    Works with any model admin that has `namespace_field` and `view_role` attributes.
    """

    title = "namespace"
    parameter_name = "namespace"

    def __init__(self, request: HttpRequest, params: dict, model: type[models.Model], model_admin: Any) -> None:
        self.field = model_admin.namespace_field
        super().__init__(request, params, model, model_admin)

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        visible = namespace_list(account=request.user, minimum=model_admin.view_role)
        return [(str(pk), name) for pk, name in visible.values_list("id", "name")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value is None:
            return queryset
        if value not in {key for key, _ in self.lookup_choices}:
            return queryset.none()
        return queryset.filter(**{f"{self.field}_id": value})


class OwnedRecordsDeleteMixin:
    """Records whose admin sets `deleted_with_parent` do not block deleting the parent that owns them.

    Django refuses a deletion when the caller may not delete every cascaded row; task runs,
    events, revisions, tokens and secrets cannot be deleted on their own but must go with
    their flow, execution or account. The rows being deleted are not cascaded rows: a bulk
    deletion of secrets still needs the right to delete each one.
    """

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        owned = {
            model._meta.verbose_name
            for model, model_admin in self.admin_site._registry.items()
            if getattr(model_admin, "deleted_with_parent", False) and model is not self.model
        }
        return deleted, counts, perms_needed - owned, protected


class NamespaceScopedAdmin(OwnedRecordsDeleteMixin, admin.ModelAdmin):
    """A model admin whose rows belong to a namespace reached through `namespace_field`.

    `view_role` is needed to see a row, `edit_role` for the actions in `edit_actions`; records
    that only the engine or a service writes narrow `edit_actions`. `deleted_with_parent` marks
    records that may not be deleted on their own but go when their parent is deleted.
    """

    namespace_field: str = "namespace"
    view_role: str = Role.VIEWER
    edit_role: str = Role.EDITOR
    edit_actions: frozenset[str] = ALL_EDITS
    deleted_with_parent: bool = False

    def namespace_id_of(self, obj: models.Model) -> UUID | None:
        *path, last = self.namespace_field.split("__")
        for part in path:
            obj = getattr(obj, part)
            if obj is None:
                return None
        return getattr(obj, f"{last}_id")

    @admin.display(description="namespace")
    def in_namespace(self, obj: models.Model) -> Namespace | None:
        """The namespace as a list column, for models that reach it through a relation."""
        for part in self.namespace_field.split("__"):
            obj = getattr(obj, part)
            if obj is None:
                return None
        return obj

    def role_allows(self, request: HttpRequest, obj: models.Model | None, minimum: str) -> bool:
        """For a row: the role in its namespace. Without one (changelists, add): the role anywhere."""
        if obj is None:
            ids = namespace_ids_for(request.user, minimum)
            return ids is None or bool(ids)
        return at_least(role_in(request.user, self.namespace_id_of(obj)), minimum)

    def scope(self, request: HttpRequest, queryset: QuerySet, minimum: str) -> QuerySet:
        return scope_to_namespaces(queryset, account=request.user, field=self.namespace_field, minimum=minimum)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return self.scope(request, super().get_queryset(request), self.view_role)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.role_allows(request, obj, self.view_role)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return "add" in self.edit_actions and self.role_allows(request, None, self.edit_role)

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return "change" in self.edit_actions and self.role_allows(request, obj, self.edit_role)

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return "delete" in self.edit_actions and self.role_allows(request, obj, self.edit_role)

    def formfield_for_foreignkey(self, db_field: models.ForeignKey, request: HttpRequest, **kwargs: Any) -> Field:
        choices = editable_choices(request.user, db_field.related_model, self.edit_role)
        if choices is not None:
            kwargs["queryset"] = choices
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(
        self, db_field: models.ManyToManyField, request: HttpRequest, **kwargs: Any
    ) -> Field | None:
        choices = editable_choices(request.user, db_field.related_model, self.edit_role)
        if choices is not None:
            kwargs["queryset"] = choices
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def audit(self, request: HttpRequest, obj: models.Model, verb: str, fields: list[str] | None = None) -> None:
        """Admin writes land in the audit log like service writes (field names only, never values)."""
        namespace_id = self.namespace_id_of(obj)
        name = (
            Namespace.objects.filter(pk=namespace_id).values_list("name", flat=True).first() if namespace_id else None
        )
        audit_record(
            actor=request.user,
            action=f"{self.opts.model_name}.{verb}",
            resource_type=self.opts.model_name,
            resource_id=obj.pk,
            namespace=name,
            summary={"via": "admin", "fields": fields or []},
        )

    def save_model(self, request: HttpRequest, obj: models.Model, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        self.audit(request, obj, "update" if change else "create", list(form.changed_data))

    def delete_model(self, request: HttpRequest, obj: models.Model) -> None:
        self.audit(request, obj, "delete")
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        """One by one, so every deletion is audited and goes through `delete_model`."""
        for obj in queryset:
            self.delete_model(request, obj)


class ParentScopedInline(admin.TabularInline):
    """Inline rows live in their parent's namespace, so the parent admin's rules decide.

    `editable = False` shows the rows read-only to everyone.
    """

    editable: bool = True
    extra = 0

    def parent_admin(self) -> Any:
        return self.admin_site.get_model_admin(self.parent_model)

    def has_view_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.parent_admin().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.editable and self.parent_admin().has_change_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.editable and self.parent_admin().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.editable and self.parent_admin().has_change_permission(request, obj)

    def formfield_for_foreignkey(self, db_field: models.ForeignKey, request: HttpRequest, **kwargs: Any) -> Field:
        choices = editable_choices(request.user, db_field.related_model, self.parent_admin().edit_role)
        if choices is not None:
            kwargs["queryset"] = choices
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
