"""Console lists of task runs, events, agent messages and approvals (executions: `executions`).

The engine owns every status (`executions.engine.transitions.transition`), so task runs, events
and approvals are read-only here; approvals are decided through `approval_decide`, and manual
messages are sent through `message_create`, which wakes the agent's receivers.
"""

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.text import Truncator

from accounts.admin_scoping import VIEW_ONLY, NamespaceListFilter, NamespaceScopedAdmin, adopt
from accounts.roles import Role
from accounts.selectors import scope_to_namespaces
from core.errors import MillraceError
from executions.admin.timeline import pretty
from executions.agents.services import message_create
from executions.models import Approval, ExecutionEvent, Message, TaskRun
from executions.services import approval_decide
from flows.models import Agent


@admin.register(TaskRun)
class TaskRunAdmin(NamespaceScopedAdmin):
    namespace_field = "execution__namespace"
    edit_actions = VIEW_ONLY
    deleted_with_parent = True
    list_display = ("name", "execution", "in_namespace", "status", "plugin_type", "attempt", "started_at")
    list_filter = (NamespaceListFilter, "status", ("created_at", admin.DateFieldListFilter))
    search_fields = ("name", "step_id", "plugin_type", "execution__flow_name")
    list_select_related = ("execution__namespace",)
    date_hierarchy = "created_at"
    exclude = ("callback_digest", "state")  # engine bookkeeping: forEach items and plugin state may hold secrets

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        """The execution page links here with `?execution=<id>` when its timeline is cut short."""
        return lookup == "execution" or super().lookup_allowed(lookup, value, request)


@admin.register(ExecutionEvent)
class ExecutionEventAdmin(NamespaceScopedAdmin):
    namespace_field = "execution__namespace"
    edit_actions = VIEW_ONLY
    deleted_with_parent = True
    list_display = ("id", "created_at", "execution", "in_namespace", "task_run", "type", "level", "summary")
    list_filter = (NamespaceListFilter, "level", "type", ("created_at", admin.DateFieldListFilter))
    search_fields = ("message", "type", "execution__flow_name")
    list_select_related = ("execution__namespace", "task_run")
    date_hierarchy = "created_at"

    @admin.display(description="message")
    def summary(self, obj: ExecutionEvent) -> str:
        return Truncator(obj.message).chars(80)

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        """The execution page links here with `?execution=<id>` (its events, all of them)."""
        return lookup == "execution" or super().lookup_allowed(lookup, value, request)


class MessageForm(forms.ModelForm):
    """A manual message: the agent that emits it and its payload (a JSON object)."""

    class Meta:
        model = Message
        fields = ("agent", "payload")

    def clean_payload(self) -> Any:
        payload = self.cleaned_data.get("payload")
        if not isinstance(payload, dict):
            raise forms.ValidationError("The payload is a JSON object.")
        return payload


@admin.register(Message)
class MessageAdmin(NamespaceScopedAdmin):
    """Messages are what agents emitted; one added here is a manual message, sent like the API's."""

    namespace_field = "agent__namespace"
    edit_actions = frozenset({"add", "delete"})
    form = MessageForm
    list_display = ("id", "agent", "in_namespace", "created_at", "expires_at", "preview")
    list_filter = (NamespaceListFilter, ("agent", admin.RelatedOnlyFieldListFilter), "created_at")
    search_fields = ("agent__name",)
    list_select_related = ("agent__namespace",)
    date_hierarchy = "created_at"
    readonly_fields = ("uuid", "created_at", "expires_at", "payload_text")

    def get_fields(self, request: HttpRequest, obj: Message | None = None) -> tuple[str, ...]:
        return ("agent", "payload") if obj is None else ("agent", "uuid", "created_at", "expires_at", "payload_text")

    @admin.display(description="payload")
    def preview(self, obj: Message) -> str:
        return Truncator(json.dumps(obj.payload, ensure_ascii=False)).chars(80)

    @admin.display(description="payload")
    def payload_text(self, obj: Message) -> str:
        return pretty(obj.payload)

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Sending a message is run control: executors may, as `message_create` checks."""
        return self.role_allows(request, None, Role.EXECUTOR)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "agent":
            agents = Agent.objects.select_related("namespace")
            kwargs["queryset"] = scope_to_namespaces(agents, account=request.user, minimum=Role.EXECUTOR)
            return admin.ModelAdmin.formfield_for_foreignkey(self, db_field, request, **kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Message, form: Any, change: bool) -> None:
        adopt(obj, message_create(actor=request.user, agent=obj.agent, payload=form.cleaned_data["payload"]))


@admin.register(Approval)
class ApprovalAdmin(NamespaceScopedAdmin):
    """Decisions go through the engine (`approval_decide`), never by editing the status here."""

    namespace_field = "execution__namespace"
    edit_actions = VIEW_ONLY
    deleted_with_parent = True
    list_display = ("task_run", "execution", "in_namespace", "status", "decided_by", "decided_at", "created_at")
    list_filter = (NamespaceListFilter, "status", ("created_at", admin.DateFieldListFilter))
    search_fields = ("execution__flow_name", "task_run__name", "comment")
    list_select_related = ("task_run", "execution__namespace", "decided_by")
    date_hierarchy = "created_at"
    actions = ("approve", "reject")

    def has_decide_permission(self, request: HttpRequest) -> bool:
        return self.role_allows(request, None, Role.EXECUTOR)

    def _decide(self, request: HttpRequest, queryset: QuerySet, approve: bool) -> None:
        """Each pending approval through `approval_decide`, which checks the role per namespace."""
        done = 0
        for approval in queryset.filter(status=Approval.Status.PENDING).select_related("execution__namespace"):
            try:
                approval_decide(actor=request.user, approval=approval, approve=approve)
            except MillraceError as exc:
                self.message_user(request, f"{approval.task_run}: {exc.message}", messages.ERROR)
            else:
                done += 1
        verb = "Approved" if approve else "Rejected"
        self.message_user(request, f"{verb} {done} approval(s).", messages.SUCCESS if done else messages.WARNING)

    @admin.action(description="Approve selected pending approvals", permissions=["decide"])
    def approve(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide(request, queryset, True)

    @admin.action(description="Reject selected pending approvals", permissions=["decide"])
    def reject(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide(request, queryset, False)
