"""Bulk run control on the executions list: Cancel, Retry and Replay on the selected executions.

Each execution goes through its service, which checks the executor role in its namespace and
the status again, so a selection that mixes namespaces or statuses does what it may and says
what it could not, grouped by reason ("2 cancelled." and "1 could not be cancelled: …").
The actions are offered to an executor of some namespace; a viewer sees none of them.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.roles import Role
from core.errors import MillraceError
from executions.models import Execution
from executions.services import execution_cancel, execution_replay_from_start, execution_retry


class BulkActionsMixin:
    """Admin actions for `ExecutionAdmin` (a `NamespaceScopedAdmin`)."""

    actions = ("cancel_selected", "retry_selected", "replay_selected")

    def has_control_permission(self, request: HttpRequest) -> bool:
        return self.role_allows(request, None, Role.EXECUTOR)  # type: ignore[attr-defined]

    def _each(
        self, request: HttpRequest, queryset: QuerySet, service: Callable[..., Execution], done: str, verb: str
    ) -> None:
        """Call `service` per execution; one message for the successes, one per failure reason."""
        succeeded = 0
        failed: dict[str, list[str]] = {}
        for execution in queryset.select_related("namespace", "flow").order_by("created_at"):
            try:
                service(actor=request.user, execution=execution)
            except MillraceError as exc:
                failed.setdefault(exc.message, []).append(str(execution.pk)[:8])
            else:
                succeeded += 1
        if succeeded or not failed:
            level = messages.SUCCESS if succeeded else messages.WARNING
            self.message_user(request, f"{succeeded} {done}.", level)  # type: ignore[attr-defined]
        for reason, ids in failed.items():
            self.message_user(  # type: ignore[attr-defined]
                request, f"{len(ids)} could not be {verb} ({', '.join(ids)}): {reason}", messages.ERROR
            )

    @admin.action(description="Cancel selected executions", permissions=["control"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, execution_cancel, "cancelled", "cancelled")

    @admin.action(description="Retry selected executions", permissions=["control"])
    def retry_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, execution_retry, "retrying", "retried")

    @admin.action(description="Replay selected executions as new ones", permissions=["control"])
    def replay_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, execution_replay_from_start, "replayed as new executions", "replayed")
