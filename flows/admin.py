"""Console pages for flows, their revisions and triggers, and agents, scoped by namespace role."""

import json
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import Field, QuerySet
from django.forms import Field as FormField
from django.http import HttpRequest, HttpResponseRedirect

from accounts.roles import Role
from core.admin_scoping import VIEW_ONLY, NamespaceListFilter, NamespaceScopedAdmin, ParentScopedInline, adopt
from core.errors import MillraceError, ValidationFailed
from executions.agents.services import agent_run, message_create
from flows.models import Agent, AgentLink, Flow, FlowRevision, Trigger
from flows.services import flow_create, flow_update, flow_validate
from flows.triggers import trigger_create, trigger_update, trigger_validate


class FlowRevisionInline(ParentScopedInline):
    model = FlowRevision
    editable = False
    fields = ("number", "created_at", "created_by")
    readonly_fields = fields
    ordering = ("-number",)
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("created_by")


class FlowAdminForm(forms.ModelForm):
    """Validates the YAML on save like the API does, listing every problem with its line."""

    actor: Any = None  # set by FlowAdmin.get_form: `${NAME}` may name the editor's own secrets

    class Meta:
        model = Flow
        fields = ("namespace", "name", "description", "tags", "source")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        source = data.get("source")
        existing = not self.instance._state.adding
        namespace = data.get("namespace") or (self.instance.namespace if existing else None)
        if source is not None and namespace is not None:
            owner = self.actor  # `${NAME}` may use the saver's own secrets, as through the API
            for problem in flow_validate(source=source, namespace=namespace, owner=owner):
                where = f"line {problem.line}: " if problem.line else ""
                self.add_error("source", f"{where}{problem.path or '(flow)'}: {problem.message}")
        return data


@admin.register(Flow)
class FlowAdmin(NamespaceScopedAdmin):
    form = FlowAdminForm
    list_display = ("name", "namespace", "format", "version", "revision", "updated_at")
    list_filter = (NamespaceListFilter, "format")
    search_fields = ("name", "description")
    list_select_related = ("namespace",)
    date_hierarchy = "updated_at"
    readonly_fields = ("format", "version", "revision", "created_by", "updated_by", "created_at", "updated_at")
    fields = ("namespace", "name", "description", "tags", "source", *readonly_fields)
    inlines = (FlowRevisionInline,)

    def get_readonly_fields(self, request: HttpRequest, obj: Flow | None = None) -> tuple[str, ...]:
        """A flow stays in its namespace; its format and version come from the YAML."""
        return ("namespace", *self.readonly_fields) if obj is not None else self.readonly_fields

    def get_form(self, request: HttpRequest, obj: Flow | None = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        form.actor = request.user
        return form

    def formfield_for_dbfield(self, db_field: Field, request: HttpRequest, **kwargs: Any) -> FormField | None:
        """`source` is kept exactly as submitted; a stripped copy would also count as a change."""
        if db_field.name == "source":
            kwargs["strip"] = False
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Flow, form: Any, change: bool) -> None:
        """Through the flow services, as the API: a changed source is a new revision, triggers sync."""
        data = form.cleaned_data
        if change:
            saved = flow_update(
                actor=request.user,
                flow=Flow.objects.get(pk=obj.pk),
                source=data["source"],
                name=data["name"],
                description=data["description"],
                tags=data["tags"],
            )
        else:
            saved = flow_create(
                actor=request.user,
                namespace=data["namespace"],
                source=data["source"],
                name=data["name"],
                description=data["description"],
                tags=data["tags"],
            )
        adopt(obj, saved)


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


SERVICE_FIELDS = ("name", "cron", "timezone", "statuses", "enabled", "inputs")
FORM_FIELD_OF = {"sourceFlowId": "source_flow"}  # service error fields named like the API's


def _service_values(data: dict[str, Any]) -> dict[str, Any]:
    """The form's values as the trigger services take them."""
    values = {name: data[name] for name in SERVICE_FIELDS if name in data}
    source = data.get("source_flow")
    return {**values, "source_flow_id": source.pk if source is not None else None}


class TriggerAdminForm(forms.ModelForm):
    """Checked by the trigger services (cron, timezone, source flow...), so refusals are form errors."""

    actor: Any = None  # set by TriggerAdmin.get_form

    class Meta:
        model = Trigger
        fields = ("flow", "name", "type", "cron", "timezone", "source_flow", "statuses", "enabled", "inputs")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        existing = not self.instance._state.adding
        flow = self.instance.flow if existing else data.get("flow")
        if self.errors or flow is None or not data.get("type"):
            return data
        try:
            trigger_validate(
                actor=self.actor,
                flow=flow,
                type=data["type"],
                trigger=self.instance if existing else None,
                **_service_values(data),
            )
        except ValidationFailed as exc:
            for detail in exc.details or [{"reason": exc.message}]:
                field = FORM_FIELD_OF.get(detail.get("field"), detail.get("field"))
                self.add_error(field if field in self.fields else None, detail.get("reason") or exc.message)
        except MillraceError as exc:
            self.add_error(None, exc.message)
        return data


@admin.register(Trigger)
class TriggerAdmin(NamespaceScopedAdmin):
    """Writes go through `flows.triggers` like the API's; YAML-declared triggers are read-only."""

    form = TriggerAdminForm
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

    def get_readonly_fields(self, request: HttpRequest, obj: Trigger | None = None) -> tuple[str, ...]:
        """A trigger stays on its flow (the services cannot move it)."""
        return ("flow", *self.readonly_fields) if obj is not None else self.readonly_fields

    def has_change_permission(self, request: HttpRequest, obj: Trigger | None = None) -> bool:
        """The flow's YAML owns declared triggers; the next save of the flow would undo an edit."""
        return not (obj is not None and obj.from_definition) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Trigger | None = None) -> bool:
        return not (obj is not None and obj.from_definition) and super().has_delete_permission(request, obj)

    def get_form(self, request: HttpRequest, obj: Trigger | None = None, change: bool = False, **kwargs: Any) -> Any:
        """A flow trigger watches a flow of its own namespace, so only those are offered."""
        form = super().get_form(request, obj, change=change, **kwargs)
        form.actor = request.user
        if obj is not None and "source_flow" in form.base_fields:
            same = Flow.objects.filter(namespace_id=obj.flow.namespace_id).select_related("namespace")
            form.base_fields["source_flow"].queryset = same
        return form

    def save_model(self, request: HttpRequest, obj: Trigger, form: Any, change: bool) -> None:
        """Through `trigger_create`/`trigger_update`: validated, `next_fire_at` armed, audited."""
        data = form.cleaned_data
        try:
            if change:
                saved = trigger_update(
                    actor=request.user,
                    trigger=Trigger.objects.select_related("flow__namespace").get(pk=obj.pk),
                    type=data["type"],
                    **_service_values(data),
                )
            else:
                saved = trigger_create(
                    actor=request.user, flow=data["flow"], type=data["type"], **_service_values(data)
                )
        except MillraceError as exc:  # a race after the form's check (a key taken, a role lost)
            request._trigger_not_saved = True  # type: ignore[attr-defined]
            self.message_user(request, exc.message, messages.ERROR)
            return
        adopt(obj, saved)

    def log_addition(self, request: HttpRequest, obj: Trigger, message: Any) -> Any:
        return None if getattr(request, "_trigger_not_saved", False) else super().log_addition(request, obj, message)

    def log_change(self, request: HttpRequest, obj: Trigger, message: Any) -> Any:
        return None if getattr(request, "_trigger_not_saved", False) else super().log_change(request, obj, message)

    def response_add(self, request: HttpRequest, obj: Trigger, post_url_continue: str | None = None) -> Any:
        if getattr(request, "_trigger_not_saved", False):
            return HttpResponseRedirect(request.get_full_path())
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request: HttpRequest, obj: Trigger) -> Any:
        if getattr(request, "_trigger_not_saved", False):
            return HttpResponseRedirect(request.get_full_path())
        return super().response_change(request, obj)


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

    def get_formset(self, request: HttpRequest, obj: Agent | None = None, **kwargs: Any) -> Any:
        """An agent receives from agents of its own namespace only."""
        formset = super().get_formset(request, obj, **kwargs)
        if obj is not None and "source" in formset.form.base_fields:
            same = Agent.objects.filter(namespace_id=obj.namespace_id).select_related("namespace")
            formset.form.base_fields["source"].queryset = same
        return formset


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

    def get_form(self, request: HttpRequest, obj: Agent | None = None, change: bool = False, **kwargs: Any) -> Any:
        """An agent starts flows of its own namespace only."""
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None and "flows" in form.base_fields:
            same = Flow.objects.filter(namespace_id=obj.namespace_id).select_related("namespace")
            form.base_fields["flows"].queryset = same
        return form

    def save_model(self, request: HttpRequest, obj: Agent, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
