"""Console pages for executions, task runs, events, agent messages and approvals.

The engine owns every status (`executions.engine.transitions.transition`), so executions, task
runs, events and approvals are view-only here; run/cancel/retry/approve will be actions that
ask the engine. Editors may delete ended executions (with their task runs, events and approvals).
"""

from django.contrib import admin
from django.http import HttpRequest
from django.utils.text import Truncator

from core.admin_scoping import VIEW_ONLY, NamespaceListFilter, NamespaceScopedAdmin, ParentScopedInline
from executions.models import Approval, Execution, ExecutionEvent, Message, TaskRun


class TaskRunInline(ParentScopedInline):
    model = TaskRun
    editable = False
    fields = ("sequence", "name", "plugin_type", "status", "attempt", "started_at", "finished_at")
    readonly_fields = fields
    ordering = ("sequence",)
    show_change_link = True


@admin.register(Execution)
class ExecutionAdmin(NamespaceScopedAdmin):
    edit_actions = frozenset({"delete"})
    list_display = ("flow_name", "namespace", "status", "created_at", "duration", "origin")
    list_filter = (NamespaceListFilter, "status", "origin")
    search_fields = ("flow_name", "error")
    list_select_related = ("namespace",)
    date_hierarchy = "created_at"
    inlines = (TaskRunInline,)
    fieldsets = (
        (None, {"fields": ("flow", "flow_name", "flow_revision", "namespace", "status", "origin", "trigger")}),
        ("Data", {"fields": ("inputs", "outputs", "error", "trigger_data")}),
        ("Progress", {"fields": ("tasks_total", "tasks_executed", "steps_taken", "attempt", "parent_task")}),
        ("Limits", {"fields": ("timeout_seconds", "timeout_policy", "deadline")}),
        ("Times", {"fields": ("created_by", "created_at", "started_at", "finished_at", "updated_at")}),
        ("Definition", {"classes": ("collapse",), "fields": ("source",)}),
    )

    @admin.display(description="duration")
    def duration(self, obj: Execution) -> str | None:
        milliseconds = obj.duration_ms
        return None if milliseconds is None else f"{milliseconds / 1000:.1f} s"

    def has_delete_permission(self, request: HttpRequest, obj: Execution | None = None) -> bool:
        """An execution that has not ended is still the engine's; cancel it first."""
        return super().has_delete_permission(request, obj) and (obj is None or obj.is_terminal)


@admin.register(TaskRun)
class TaskRunAdmin(NamespaceScopedAdmin):
    namespace_field = "execution__namespace"
    edit_actions = VIEW_ONLY
    deleted_with_parent = True
    list_display = ("name", "execution", "in_namespace", "status", "plugin_type", "attempt", "started_at")
    list_filter = (NamespaceListFilter, "status")
    search_fields = ("name", "step_id", "plugin_type", "execution__flow_name")
    list_select_related = ("execution__namespace",)
    date_hierarchy = "created_at"
    exclude = ("callback_digest", "state")  # engine bookkeeping: forEach items and plugin state may hold secrets


@admin.register(ExecutionEvent)
class ExecutionEventAdmin(NamespaceScopedAdmin):
    namespace_field = "execution__namespace"
    edit_actions = VIEW_ONLY
    deleted_with_parent = True
    list_display = ("id", "created_at", "execution", "in_namespace", "task_run", "type", "level", "summary")
    list_filter = (NamespaceListFilter, "level", "type")
    search_fields = ("message", "type", "execution__flow_name")
    list_select_related = ("execution__namespace", "task_run")
    date_hierarchy = "created_at"

    @admin.display(description="message")
    def summary(self, obj: ExecutionEvent) -> str:
        return Truncator(obj.message).chars(80)


@admin.register(Message)
class MessageAdmin(NamespaceScopedAdmin):
    namespace_field = "agent__namespace"
    list_display = ("id", "agent", "in_namespace", "created_at", "expires_at")
    list_filter = (NamespaceListFilter, ("agent", admin.RelatedOnlyFieldListFilter))
    search_fields = ("agent__name",)
    list_select_related = ("agent__namespace",)
    date_hierarchy = "created_at"
    readonly_fields = ("uuid", "created_at")


@admin.register(Approval)
class ApprovalAdmin(NamespaceScopedAdmin):
    """Decisions go through the engine (`approval_decide`), never by editing the status here."""

    namespace_field = "execution__namespace"
    edit_actions = VIEW_ONLY
    deleted_with_parent = True
    list_display = ("task_run", "execution", "in_namespace", "status", "decided_by", "decided_at", "created_at")
    list_filter = (NamespaceListFilter, "status")
    search_fields = ("execution__flow_name", "task_run__name", "comment")
    list_select_related = ("task_run", "execution__namespace", "decided_by")
    date_hierarchy = "created_at"
