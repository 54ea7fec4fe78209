"""Console pages for flows, their revisions and triggers, and agents, scoped by namespace role."""

import json
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import Field, QuerySet
from django.forms import Field as FormField
from django.http import HttpRequest

from accounts.roles import Role
from core.admin_scoping import VIEW_ONLY, NamespaceListFilter, NamespaceScopedAdmin, ParentScopedInline
from core.errors import MillraceError
from executions.agents.services import agent_run, message_create
from flows.models import Agent, AgentLink, Flow, FlowRevision, Trigger, new_webhook_key


class FlowRevisionInline(ParentScopedInline):
    model = FlowRevision
    editable = False
    fields = ("number", "created_at", "created_by")
    readonly_fields = fields
    ordering = ("-number",)
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("created_by")


@admin.register(Flow)
class FlowAdmin(NamespaceScopedAdmin):
    list_display = ("name", "namespace", "format", "version", "revision", "updated_at")
    list_filter = (NamespaceListFilter, "format")
    search_fields = ("name", "description")
    list_select_related = ("namespace",)
    date_hierarchy = "updated_at"
    readonly_fields = ("revision", "created_by", "updated_by", "created_at", "updated_at")
    fields = ("namespace", "name", "description", "version", "tags", "format", "source", *readonly_fields)
    inlines = (FlowRevisionInline,)

    def formfield_for_dbfield(self, db_field: Field, request: HttpRequest, **kwargs: Any) -> FormField | None:
        """`source` is kept exactly as submitted; a stripped copy would also count as a change."""
        if db_field.name == "source":
            kwargs["strip"] = False
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Flow, form: Any, change: bool) -> None:
        """Every change of `source` is a new revision, as through the API."""
        obj.updated_by = request.user
        if not change:
            obj.created_by = request.user
        new_source = not change or "source" in form.changed_data
        if change and new_source:
            obj.revision += 1
        super().save_model(request, obj, form, change)
        if new_source:
            FlowRevision.objects.create(flow=obj, number=obj.revision, source=obj.source, created_by=request.user)


@admin.register(FlowRevision)
class FlowRevisionAdmin(NamespaceScopedAdmin):
    """Revisions are history: written when a flow's source changes, deleted with the flow."""

    namespace_field = "flow__namespace"
    edit_actions = VIEW_ONLY
    deleted_with_parent = True
    list_display = ("flow", "number", "in_namespace", "created_at", "created_by")
    list_filter = (NamespaceListFilter,)
    search_fields = ("flow__name",)
    list_select_related = ("flow__namespace", "created_by")
    date_hierarchy = "created_at"


@admin.register(Trigger)
class TriggerAdmin(NamespaceScopedAdmin):
    namespace_field = "flow__namespace"
    list_display = ("__str__", "name", "type", "enabled", "cron", "last_fired_at", "next_fire_at")
    list_filter = (NamespaceListFilter, "type", "enabled")
    search_fields = ("name", "flow__name", "cron")
    list_select_related = ("flow__namespace",)
    readonly_fields = ("key", "from_definition", "last_fired_at", "next_fire_at", "created_at", "updated_at")

    def get_fields(self, request: HttpRequest, obj: Trigger | None = None) -> list[str]:
        """The webhook key is a credential: only those who may fire webhooks (executor) see it."""
        fields = super().get_fields(request, obj)
        if obj is None or not self.role_allows(request, obj, Role.EXECUTOR):
            fields = [name for name in fields if name != "key"]
        return fields

    def save_model(self, request: HttpRequest, obj: Trigger, form: Any, change: bool) -> None:
        if obj.type == Trigger.Type.WEBHOOK and not obj.key:
            obj.key = new_webhook_key()
        super().save_model(request, obj, form, change)


class AgentSourceInline(ParentScopedInline):
    """The agents this one receives messages from."""

    model = AgentLink
    fk_name = "receiver"
    fields = ("source", "cursor")
    readonly_fields = ("cursor",)
    verbose_name = "source"
    verbose_name_plural = "sources"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("source")


class AgentActionForm(ActionForm):
    """The changelist's action bar, plus the JSON payload that "send a manual message" sends."""

    payload = forms.CharField(required=False, label="Payload (JSON object)", widget=forms.TextInput(attrs={"size": 40}))


@admin.register(Agent)
class AgentAdmin(NamespaceScopedAdmin):
    list_display = ("name", "namespace", "type", "schedule", "disabled", "last_run_at")
    list_filter = (NamespaceListFilter, "disabled", "type")
    search_fields = ("name", "type")
    list_select_related = ("namespace",)
    filter_horizontal = ("flows",)
    readonly_fields = ("last_run_at", "last_error", "created_by", "created_at", "updated_at")
    inlines = (AgentSourceInline,)
    action_form = AgentActionForm
    actions = ("run_now", "send_manual_message")

    def has_execute_permission(self, request: HttpRequest) -> bool:
        return self.role_allows(request, None, Role.EXECUTOR)

    def _each(self, request: HttpRequest, queryset: QuerySet, act: Callable[[Agent], Any], done: str) -> None:
        """Apply a service call to each agent; the service checks the role per namespace."""
        count = 0
        for agent in queryset.select_related("namespace"):
            try:
                act(agent)
                count += 1
            except MillraceError as exc:
                self.message_user(request, f"{agent.name}: {exc.message}", messages.ERROR)
        if count:
            self.message_user(request, f"{done}: {count} agent(s).", messages.SUCCESS)

    @admin.action(description="Run now", permissions=["execute"])
    def run_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, lambda agent: agent_run(actor=request.user, agent=agent), "Queued a run")

    @admin.action(description="Send a manual message (payload above)", permissions=["execute"])
    def send_manual_message(self, request: HttpRequest, queryset: QuerySet) -> None:
        try:
            payload = json.loads(request.POST.get("payload") or "{}")
        except ValueError as exc:
            self.message_user(request, f"The payload is not JSON: {exc}", messages.ERROR)
            return
        self._each(
            request,
            queryset,
            lambda agent: message_create(actor=request.user, agent=agent, payload=payload),
            "Sent a message",
        )

    def save_model(self, request: HttpRequest, obj: Agent, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
