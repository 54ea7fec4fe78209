"""The execution page: task runs as a timeline, their inputs and outputs, logs, live updates,
run control (cancel, pause, resume, retry, approve/reject) and downloads of its files.

Every action asks `executions.services`, which check the role again and ask the engine; the
page only offers an action to an executor (or more) of the execution's namespace and only in
a status the service accepts. Live updates: the page opens the FlowRunner execution socket
(authenticated by the console session, see `executions.consumers`) and, whenever it rings,
fetches the live fragment again from `live_view`; the socket is a doorbell, the server renders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from accounts.admin_scoping import NamespaceListFilter, NamespaceScopedAdmin
from accounts.roles import Role
from core.errors import MillraceError, NotFound, ValidationFailed
from core.timefmt import seconds_text
from executions.admin.bulk import BulkActionsMixin
from executions.admin.file_links import file_links
from executions.admin.graph import execution_graph, step_states
from executions.admin.timeline import attempt_started_at, pretty, progress, timeline
from executions.engine.labels import label_pairs
from executions.models import Approval, Execution, ExecutionStatus, TaskRun
from executions.selectors import (
    approval_get,
    execution_events,
    execution_slot_wait,
    executions_labelled,
    labels_in_use,
    task_runs,
)
from executions.services import (
    approval_decide,
    execution_cancel,
    execution_pause,
    execution_replay,
    execution_rerun,
    execution_resume,
    execution_retry,
)
from files.selectors import execution_file_open

E = ExecutionStatus
EVENT_LIMIT = 200  # the newest events on the page; the event list holds them all
TIMELINE_LIMIT = 500  # task runs drawn (a large forEach has more); the task-run list holds them all
SOCKET_PATH = "/ws/executions/{id}?event_ids=true"  # FlowRunner's stream (api/flowrunner/routing.py)


@dataclass(frozen=True)
class Control:
    """A run-control action: the service it calls and the statuses it is offered in."""

    name: str
    label: str
    service: Callable[..., Execution]
    statuses: frozenset[str]
    done: str


CONTROLS = (
    Control("pause", "Pause", execution_pause, frozenset({E.QUEUED, E.RUNNING, E.WAITING}), "Paused"),
    Control("resume", "Resume", execution_resume, frozenset({E.PAUSED}), "Resumed"),
    Control("retry", "Retry", execution_retry, frozenset({E.FAILED, E.CANCELLED, E.TIMED_OUT}), "Retrying"),
    Control("cancel", "Cancel", execution_cancel, frozenset({E.QUEUED, E.RUNNING, E.WAITING, E.PAUSED}), "Cancelled"),
)
CONTROL_BY_NAME = {control.name: control for control in CONTROLS}
DECISIONS = {"approve": True, "reject": False}


class LabelListFilter(admin.SimpleListFilter):
    """`?label=key:value`: the labels in use are offered; any pair may be typed in the URL."""

    title = "label"
    parameter_name = "label"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        pairs = labels_in_use(model_admin.get_queryset(request))
        return [(f"{key}:{value}", f"{key}: {value}") for key, value in pairs]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if not self.value():
            return queryset
        try:
            return executions_labelled(queryset, labels=label_pairs([self.value()]))
        except MillraceError:
            return queryset.none()  # a malformed label matches nothing


@admin.register(Execution)
class ExecutionAdmin(BulkActionsMixin, NamespaceScopedAdmin):
    edit_actions = frozenset({"delete"})
    list_display = (
        "short_id",
        "flow_in_namespace",
        "status_badge",
        "created_at",
        "duration",
        "labels_text",
        "short_error",
    )
    list_filter = (NamespaceListFilter, "status", LabelListFilter, ("created_at", admin.DateFieldListFilter), "origin")
    search_fields = ("flow_name", "error", "=id")
    list_select_related = ("namespace",)
    date_hierarchy = "created_at"
    fieldsets = (  # what does not change while it runs; the live region above shows the rest
        (None, {"fields": ("flow", "flow_revision", "namespace", "origin", "trigger", "parent_task")}),
        ("Data", {"fields": ("inputs_text", "labels_text", "trigger_data")}),
        ("Limits", {"fields": ("timeout_seconds", "timeout_policy")}),
        ("Who and when", {"fields": ("created_by", "created_at")}),
        ("Definition", {"classes": ("collapse",), "fields": ("source",)}),
    )
    readonly_fields = ("inputs_text", "labels_text")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).defer("source")

    @admin.display(description="id", ordering="id")
    def short_id(self, obj: Execution) -> str:
        """The id's first block (the whole id on hover), as the page and the API name it."""
        return format_html('<code title="{}">{}</code>', obj.pk, str(obj.pk)[:8])

    @admin.display(description="flow", ordering="flow_name")
    def flow_in_namespace(self, obj: Execution) -> str:
        """The flow over its namespace: one column, so the list fits beside the filters."""
        return format_html('{}<br><span class="mr-muted">{}</span>', obj.flow_name, obj.namespace.name)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Execution) -> str:
        waiting = obj.status == E.QUEUED and obj.waiting_for_slot
        text = f"{obj.status} (waiting for a concurrency slot)" if waiting else obj.status
        return format_html('<span class="status-badge status-{}">{}</span>', obj.status.lower(), text)

    @admin.display(description="duration")
    def duration(self, obj: Execution) -> str | None:
        milliseconds = obj.duration_ms
        return None if milliseconds is None else seconds_text(milliseconds / 1000)

    @admin.display(description="error")
    def short_error(self, obj: Execution) -> str:
        return obj.error[:80]

    @admin.display(description="inputs")
    def inputs_text(self, obj: Execution) -> str:
        return format_html('<pre class="execution-inputs">{}</pre>', pretty(obj.inputs))

    @admin.display(description="labels")
    def labels_text(self, obj: Execution) -> str:
        return ", ".join(f"{key}: {value}" for key, value in sorted(obj.labels.items()))

    def has_delete_permission(self, request: HttpRequest, obj: Execution | None = None) -> bool:
        """An execution that has not ended is still the engine's; cancel it first."""
        return super().has_delete_permission(request, obj) and (obj is None or obj.is_terminal)

    def may_control(self, request: HttpRequest, obj: Execution) -> bool:
        """Run control needs the executor role in the execution's namespace, as the services check."""
        return self.role_allows(request, obj, Role.EXECUTOR)

    # --- pages ----------------------------------------------------------------------------

    def get_urls(self) -> list:
        wrap, prefix = self.admin_site.admin_view, f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<path:object_id>/live/", wrap(self.live_view), name=f"{prefix}_live"),
            path("<path:object_id>/file/", wrap(self.file_view), name=f"{prefix}_file"),
            path("<path:object_id>/control/<str:control>/", wrap(self.control_view), name=f"{prefix}_control"),
            path("<path:object_id>/rerun/", wrap(self.rerun_view), name=f"{prefix}_rerun"),
            path("<path:object_id>/replay/<str:task_run_id>/", wrap(self.replay_view), name=f"{prefix}_replay"),
            path(
                "<path:object_id>/approvals/<str:approval_id>/<str:decision>/",
                wrap(self.decide_view),
                name=f"{prefix}_decide",
            ),
            *super().get_urls(),
        ]

    def live_context(self, request: HttpRequest, execution: Execution) -> dict[str, Any]:
        """What the live fragment shows; the same for the first render and every refresh."""
        runs: list[TaskRun] = list(task_runs(execution=execution)[:TIMELINE_LIMIT])
        newest = list(execution_events(execution=execution).order_by("-id")[:EVENT_LIMIT])
        approvals = list(execution.approvals.select_related("task_run", "decided_by").order_by("created_at"))
        allowed = self.may_control(request, execution)
        return {
            "execution": execution,
            "graph": execution_graph(execution, step_states(execution)),
            "log_steps": sorted({event.task_run.name for event in newest if event.task_run_id}),
            "slot_wait": execution_slot_wait(execution=execution),
            "outputs": pretty(execution.outputs),
            **self.durations(execution),
            "progress": progress(execution, runs),
            "rows": timeline(execution, runs),
            "files": file_links(execution, runs),
            "runs_total": execution.task_runs.count() if len(runs) == TIMELINE_LIMIT else len(runs),
            "runs_url": reverse("admin:executions_taskrun_changelist") + f"?execution={execution.pk}",
            "events": newest[::-1],
            "cursor": newest[0].id if newest else 0,
            "events_total": execution.events.count(),
            "events_url": reverse("admin:executions_executionevent_changelist") + f"?execution={execution.pk}",
            "approvals": approvals,
            "decidable": {
                approval.pk
                for approval in approvals
                if allowed
                and approval.status == Approval.Status.PENDING
                and approval.task_run.status == TaskRun.Status.WAITING
            },
            "controls": [c for c in CONTROLS if allowed and execution.status in c.statuses],
            "replayable": allowed and execution.is_terminal and execution.flow_id is not None,
            "replay_of": self.get_queryset(request).filter(pk=execution.original_id).first()
            if execution.original_id
            else None,
            "children": list(
                self.get_queryset(request).filter(parent_task__execution=execution).order_by("created_at")
            ),
            "parent": self.get_queryset(request).filter(task_runs__id=execution.parent_task_id).first()
            if execution.parent_task_id
            else None,
            "socket_path": SOCKET_PATH.format(id=execution.pk),
            "live_url": reverse("admin:executions_execution_live", args=[execution.pk]),
        }

    def durations(self, execution: Execution) -> dict[str, str | None]:
        """`duration`: how long the current attempt took; after a retry, `duration_all` is the
        time since the first attempt started (the retry may have come much later)."""
        if execution.finished_at is None:
            return {"duration": None, "duration_all": None}
        total = self.duration(execution)
        started = attempt_started_at(execution)
        if execution.attempt <= 1 or started is None:
            return {"duration": total, "duration_all": None}
        return {"duration": seconds_text((execution.finished_at - started).total_seconds()), "duration_all": total}

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], add: bool = False, change: bool = False, **kwargs: Any
    ) -> HttpResponse:
        obj = kwargs.get("obj")
        if obj is not None:
            context.update(self.live_context(request, obj))
            context.update(self.neighbours(request, obj))
            context["rerunnable"] = obj.flow_id is not None and self.may_control(request, obj)
        return super().render_change_form(request, context, add=add, change=change, **kwargs)

    def neighbours(self, request: HttpRequest, execution: Execution) -> dict[str, Execution | None]:
        """The previous and next execution of the same flow that the caller may see."""
        if execution.flow_id is None:
            return {"previous": None, "next": None}
        same = self.get_queryset(request).filter(flow_id=execution.flow_id).only("id", "created_at", "status")
        at, pk = execution.created_at, execution.pk
        earlier = same.filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=pk))
        later = same.filter(Q(created_at__gt=at) | Q(created_at=at, id__gt=pk))
        return {
            "previous": earlier.order_by("-created_at", "-id").first(),
            "next": later.order_by("created_at", "id").first(),
        }

    def _visible(self, request: HttpRequest, object_id: str) -> Execution:
        """The execution if the caller may see it; otherwise a 404, as for a missing one."""
        obj = self.get_object(request, object_id)
        if obj is None or not self.has_view_permission(request, obj):
            raise Http404("Execution not found.")
        return obj

    def live_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        execution = self._visible(request, object_id)
        return TemplateResponse(request, "admin/executions/execution/_live.html", self.live_context(request, execution))

    def file_view(self, request: HttpRequest, object_id: str) -> FileResponse:
        """A file of this execution (`?uri=`), as a download: for whoever may see the execution.
        Another namespace's execution, a URI outside this execution and a missing file are 404s."""
        execution = self._visible(request, object_id)
        try:
            name, opened = execution_file_open(
                namespace_name=execution.namespace.name,
                execution_id=str(execution.pk),
                uri=request.GET.get("uri", ""),
            )
        except MillraceError:  # not found, or no `millrace:///` URI at all
            raise Http404("File not found.") from None
        return FileResponse(opened, as_attachment=True, filename=name, content_type="application/octet-stream")

    def _back(self, execution: Execution) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:executions_execution_change", args=[execution.pk]))

    def control_view(self, request: HttpRequest, object_id: str, control: str) -> HttpResponse:
        return require_POST(self._control)(request, object_id, control)

    def _control(self, request: HttpRequest, object_id: str, control: str) -> HttpResponse:
        execution = self._visible(request, object_id)
        action = CONTROL_BY_NAME.get(control)
        if action is None:
            raise Http404("Unknown action.")
        try:
            action.service(actor=request.user, execution=execution)
        except MillraceError as exc:
            self.message_user(request, f"{action.label}: {exc.message}", messages.ERROR)
        else:
            self.message_user(request, f"{action.done}: {execution.flow_name}.", messages.SUCCESS)
        return self._back(execution)

    def rerun_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return require_POST(self._rerun)(request, object_id)

    def _rerun(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Run again with the same inputs (`execution_rerun`); inputs the flow no longer takes
        send the caller to the flow's run form, with what was wrong."""
        execution = self._visible(request, object_id)
        try:
            again = execution_rerun(actor=request.user, execution=execution)
        except ValidationFailed as exc:
            self.message_user(request, f"Run again: {exc.message} Start it from the run form.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:flows_flow_run", args=[execution.flow_id]))
        except MillraceError as exc:
            self.message_user(request, f"Run again: {exc.message}", messages.ERROR)
            return self._back(execution)
        self.message_user(request, f"Started {execution.flow_name} again with the same inputs.", messages.SUCCESS)
        return self._back(again)

    def replay_view(self, request: HttpRequest, object_id: str, task_run_id: str) -> HttpResponse:
        return require_POST(self._replay)(request, object_id, task_run_id)

    def _replay(self, request: HttpRequest, object_id: str, task_run_id: str) -> HttpResponse:
        """Replay from here: a new execution keeping the steps before this one (`execution_replay`)."""
        execution = self._visible(request, object_id)
        try:
            replay = execution_replay(actor=request.user, execution=execution, task_run_id=task_run_id)
        except MillraceError as exc:
            self.message_user(request, f"Replay: {exc.message}", messages.ERROR)
            return self._back(execution)
        self.message_user(request, f"Replaying {execution.flow_name} from this step.", messages.SUCCESS)
        return self._back(replay)

    def decide_view(self, request: HttpRequest, object_id: str, approval_id: str, decision: str) -> HttpResponse:
        return require_POST(self._decide)(request, object_id, approval_id, decision)

    def _decide(self, request: HttpRequest, object_id: str, approval_id: str, decision: str) -> HttpResponse:
        execution = self._visible(request, object_id)
        approve = DECISIONS.get(decision)
        try:
            approval = approval_get(account=request.user, approval_id=approval_id)
        except NotFound:
            approval = None
        if approve is None or approval is None or approval.execution_id != execution.pk:
            raise Http404("Approval not found.")
        comment = request.POST.get("comment", "").strip()
        try:
            approval_decide(actor=request.user, approval=approval, approve=approve, comment=comment)
        except MillraceError as exc:
            self.message_user(request, f"{decision.title()}: {exc.message}", messages.ERROR)
        else:
            self.message_user(request, f"{'Approved' if approve else 'Rejected'}.", messages.SUCCESS)
        return self._back(execution)
