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

from accounts.selectors import creator_role
from api.pagination import TOTAL_NOTE
from executions.models import Execution, ExecutionStatus, TaskRun, TaskStatus
from executions.selectors import PAGE_TASKS_ATTR

E, T = ExecutionStatus, TaskStatus

EXECUTION_WORDS: dict[str, str] = {
    E.QUEUED: "QUEUED",
    E.RUNNING: "RUNNING",
    E.WAITING: "RUNNING",
    E.PAUSED: "PAUSED",
    E.SUCCESS: "COMPLETED",
    E.WARNING: "COMPLETED",  # ended after a step with `allowFailure` failed
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


def utc(value: Any) -> str | None:
    """ISO 8601 in UTC with `Z`, whatever the active time zone."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


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
    """One run. `_tasks` reads the task runs the view attached (`execution_page` prefetches them for lists);
    `_userType` is `accounts.selectors.creator_role` (annotated for lists)."""

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
    _labels = serializers.DictField(source="labels", child=serializers.CharField())

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get__namespaces(self, execution: Execution) -> list[str]:
        return [execution.namespace.name]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get__userType(self, execution: Execution) -> str | None:
        return creator_role(execution)

    @extend_schema_field(TaskSerializer(many=True))
    def get__tasks(self, execution: Execution) -> list[dict[str, Any]]:
        runs = getattr(execution, PAGE_TASKS_ATTR, [])
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
    _total = serializers.IntegerField(help_text=TOTAL_NOTE)
    _list = WorkflowRunSerializer(many=True)


class WorkflowCreateSerializer(serializers.Serializer):
    _workflowDefId = serializers.CharField()
    _inputParams = serializers.DictField(required=False, allow_null=True, default=dict)
    _labels = serializers.JSONField(required=False, allow_null=True, default=None, help_text="String values.")


class WorkflowStatusSerializer(serializers.Serializer):
    _status = serializers.ChoiceField(choices=STATUS_ACTIONS)


class ErrorDetailSerializer(serializers.Serializer):
    _code = serializers.CharField()
    _message = serializers.CharField()
    _details = serializers.JSONField(allow_null=True)


class ErrorSerializer(serializers.Serializer):
    _error = ErrorDetailSerializer()
