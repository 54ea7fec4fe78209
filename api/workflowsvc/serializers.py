"""workflowsvc shapes: a run is a "workflow" with underscore-prefixed fields (the seed's example).

Status words follow DIALECTS.md; the only rendering rule beyond the table is the seed's own
example of a paused run, whose not-yet-finished tasks read `PAUSED`.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.roles import Role, rank
from accounts.selectors import role_in
from executions.models import Execution, ExecutionStatus, TaskRun, TaskStatus

E, T = ExecutionStatus, TaskStatus

EXECUTION_WORDS: dict[str, str] = {
    E.QUEUED: "QUEUED",
    E.RUNNING: "RUNNING",
    E.WAITING: "RUNNING",
    E.PAUSED: "PAUSED",
    E.SUCCESS: "COMPLETED",
    E.FAILED: "FAILED",
    E.CANCELLED: "TERMINATED",
    E.TIMED_OUT: "TIMED_OUT",
}
TASK_WORDS: dict[str, str] = {
    **EXECUTION_WORDS,
    T.PENDING: "QUEUED",
    T.RETRYING: "RUNNING",
    T.SKIPPED: "SKIPPED",
}
# Tasks that have not finished and are not running hold still while their run is paused.
_HELD_WHEN_PAUSED = frozenset({T.PENDING, T.QUEUED, T.WAITING, T.RETRYING, T.PAUSED})

STATUS_ACTIONS = ("PAUSED", "RESUMED", "RETRIED", "TERMINATED")

TASKS_ATTR = "workflowsvc_tasks"
CREATOR_MEMBERSHIP_ATTR = "workflowsvc_creator_membership_role"


def utc(value: Any) -> str | None:
    """ISO 8601 in UTC with `Z`, whatever the active time zone."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def creator_role(execution: Execution) -> str | None:
    """The creating account's role in the run's namespace (`_userType`).

    A list annotates the membership role on every row (no query per row); a single run
    asks the accounts selector.
    """
    account = execution.created_by
    if account is None:
        return None
    if not hasattr(execution, CREATOR_MEMBERSHIP_ATTR):
        return role_in(account, execution.namespace_id)
    if account.is_global_admin:
        return Role.ADMIN
    candidates = [getattr(execution, CREATOR_MEMBERSHIP_ATTR)]
    if account.default_namespace_id == execution.namespace_id:
        candidates.append(account.role)
    best = max(candidates, key=rank)
    return best or None


class TaskSerializer(serializers.Serializer):
    """`{"_id","_name","_sequenceno","_type","_status"}`; needs `run_status` in the context."""

    _id = serializers.UUIDField(source="id")
    _name = serializers.CharField(source="name")
    _sequenceno = serializers.IntegerField(source="sequence")
    _type = serializers.CharField(source="plugin_type")
    _status = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ChoiceField(choices=sorted(set(TASK_WORDS.values()))))
    def get__status(self, run: TaskRun) -> str:
        if self.context.get("run_status") == E.PAUSED and run.status in _HELD_WHEN_PAUSED:
            return "PAUSED"
        return TASK_WORDS.get(run.status, run.status)


class WorkflowRunSerializer(serializers.Serializer):
    """One run. `_tasks` reads the task runs the view attached (prefetched for lists)."""

    _id = serializers.UUIDField(source="id")
    _workflowDefId = serializers.UUIDField(source="flow_id", allow_null=True)
    _name = serializers.CharField(source="flow_name")
    _namespaces = serializers.SerializerMethodField()
    _userType = serializers.SerializerMethodField()
    _tasks = serializers.SerializerMethodField()
    _timeoutSeconds = serializers.IntegerField(source="timeout_seconds", allow_null=True)
    _timeoutPolicy = serializers.SerializerMethodField()
    _status = serializers.SerializerMethodField()
    _createdAt = serializers.SerializerMethodField()
    _updatedAt = serializers.SerializerMethodField()
    _createdBy = serializers.UUIDField(source="created_by_id", allow_null=True)
    _updatedBy = serializers.UUIDField(source="updated_by_id", allow_null=True)
    _inputParams = serializers.JSONField(source="inputs")
    _output = serializers.JSONField(source="outputs", allow_null=True)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get__namespaces(self, execution: Execution) -> list[str]:
        return [execution.namespace.name]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get__userType(self, execution: Execution) -> str | None:
        return creator_role(execution)

    @extend_schema_field(TaskSerializer(many=True))
    def get__tasks(self, execution: Execution) -> list[dict[str, Any]]:
        runs = getattr(execution, TASKS_ATTR, [])
        return TaskSerializer(runs, many=True, context={"run_status": execution.status}).data

    @extend_schema_field(serializers.ChoiceField(choices=["TIME_OUT_WF", "ALERT_ONLY"], allow_null=True))
    def get__timeoutPolicy(self, execution: Execution) -> str | None:
        return execution.timeout_policy or None

    @extend_schema_field(serializers.ChoiceField(choices=sorted(set(EXECUTION_WORDS.values()))))
    def get__status(self, execution: Execution) -> str:
        return EXECUTION_WORDS.get(execution.status, execution.status)

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get__createdAt(self, execution: Execution) -> str | None:
        return utc(execution.created_at)

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get__updatedAt(self, execution: Execution) -> str | None:
        return utc(execution.updated_at)


class WorkflowListSerializer(serializers.Serializer):
    """The list envelope, for the schema only (WorkflowSvcPagination renders it)."""

    _offset = serializers.IntegerField()
    _pageSize = serializers.IntegerField()
    _total = serializers.IntegerField()
    _list = WorkflowRunSerializer(many=True)


class WorkflowCreateSerializer(serializers.Serializer):
    _workflowDefId = serializers.CharField()
    _inputParams = serializers.DictField(required=False, allow_null=True, default=dict)


class WorkflowStatusSerializer(serializers.Serializer):
    _status = serializers.ChoiceField(choices=STATUS_ACTIONS)


class ErrorDetailSerializer(serializers.Serializer):
    _code = serializers.CharField()
    _message = serializers.CharField()
    _details = serializers.JSONField(allow_null=True)


class ErrorSerializer(serializers.Serializer):
    _error = ErrorDetailSerializer()
