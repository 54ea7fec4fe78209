"""Console lists of task runs, events and approvals (executions: `executions`).

The engine owns every status (`executions.engine.transitions.transition`), so task runs, events
and approvals are read-only here; approvals are decided through `approval_decide`. Agent
messages are listed with the agents (`agents.admin.messages`).
"""

from datetime import datetime

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.text import Truncator

from accounts.admin_scoping import VIEW_ONLY, NamespaceListFilter, NamespaceScopedAdmin
from accounts.roles import Role
from core.errors import MillraceError
from executions.models import Approval, Execution, ExecutionEvent, TaskRun
from executions.services import approval_decide


def moment(value: datetime | None) -> str:
    """To the millisecond: steps and events a second apart are told apart (UTC, as the engine writes)."""
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:23] if value else "—"


def execution_label(execution: Execution) -> str:
    """Flow name and the id's first block: short enough for a column, enough to tell runs apart."""
    return f"{execution.flow_name} {str(execution.pk)[:8]}"


@admin.register(TaskRun)
class TaskRunAdmin(NamespaceScopedAdmin):
    namespace_field = "execution__namespace"
    edit_actions = VIEW_ONLY
    deleted_with_parent = True
    list_display = ("name", "of_execution", "in_namespace", "status", "plugin_type", "attempt", "started")
    list_filter = (NamespaceListFilter, "status", ("created_at", admin.DateFieldListFilter))
    search_fields = ("name", "step_id", "plugin_type", "execution__flow_name")
    list_select_related = ("execution__namespace",)
    date_hierarchy = "created_at"
    exclude = ("callback_digest", "state")  # engine bookkeeping: forEach items and plugin state may hold secrets

    @admin.display(description="execution", ordering="execution")
    def of_execution(self, obj: TaskRun) -> str:
        return execution_label(obj.execution)

    @admin.display(description="started", ordering="started_at")
    def started(self, obj: TaskRun) -> str:
        return moment(obj.started_at)

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        """The execution page links here with `?execution=<id>` when its timeline is cut short."""
        return lookup == "execution" or super().lookup_allowed(lookup, value, request)


@admin.register(ExecutionEvent)
class ExecutionEventAdmin(NamespaceScopedAdmin):
    namespace_field = "execution__namespace"
    edit_actions = VIEW_ONLY
    deleted_with_parent = True
    list_display = ("when", "of_execution", "in_namespace", "step", "level", "summary")
    list_display_links = ("when",)
    list_filter = (NamespaceListFilter, "level", "type", ("created_at", admin.DateFieldListFilter))
    search_fields = ("message", "type", "execution__flow_name")
    list_select_related = ("execution__namespace", "task_run")
    date_hierarchy = "created_at"

    @admin.display(description="time", ordering="created_at")
    def when(self, obj: ExecutionEvent) -> str:
        return moment(obj.created_at)

    @admin.display(description="execution", ordering="execution")
    def of_execution(self, obj: ExecutionEvent) -> str:
        return execution_label(obj.execution)

    @admin.display(description="step")
    def step(self, obj: ExecutionEvent) -> str:
        return obj.task_run.name if obj.task_run_id else ""

    @admin.display(description="message")
    def summary(self, obj: ExecutionEvent) -> str:
        """Wrapped in the list (`console.css`); the event's own page has all of it."""
        return Truncator(obj.message).chars(500)

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        """The execution page links here with `?execution=<id>` (its events, all of them)."""
        return lookup == "execution" or super().lookup_allowed(lookup, value, request)


@admin.register(Approval)
class ApprovalAdmin(NamespaceScopedAdmin):
    """Decisions go through the engine (`approval_decide`), never by editing the status here."""

    namespace_field = "execution__namespace"
    edit_actions = VIEW_ONLY
    deleted_with_parent = True
    list_display = (
        "task_run",
        "message",
        "execution",
        "in_namespace",
        "status",
        "decided_by",
        "decided_at",
        "created_at",
    )
    list_filter = (NamespaceListFilter, "status", ("created_at", admin.DateFieldListFilter))
    search_fields = ("execution__flow_name", "task_run__name", "comment")
    list_select_related = ("task_run", "execution__namespace", "decided_by")
    date_hierarchy = "created_at"
    actions = ("approve", "reject")

    @admin.display(description="asks")
    def message(self, obj: Approval) -> str:
        """The gate's question as the engine rendered it (secrets masked), as the API's `message`."""
        inputs = obj.task_run.inputs
        return str(inputs.get("message", "")) if isinstance(inputs, dict) else ""

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
