"""workflowdev shapes of executions, their tasks and approvals."""

import json
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from executions.models import Approval, Execution, TaskRun


# A dialect-qualified component name: the whole-server schema also has FlowRunner's Execution.
@extend_schema_serializer(component_name="WorkflowdevExecution")
class ExecutionSerializer(serializers.ModelSerializer):
    flowId = serializers.UUIDField(source="flow_id", allow_null=True)
    namespace = serializers.CharField(source="namespace.name")
    tasksTotal = serializers.IntegerField(source="tasks_total")
    tasksExecuted = serializers.IntegerField(source="tasks_executed")
    inputs = serializers.JSONField()
    labels = serializers.DictField(child=serializers.CharField())
    outputs = serializers.JSONField(allow_null=True)
    error = serializers.SerializerMethodField()
    startedAt = serializers.DateTimeField(source="started_at", allow_null=True)
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)
    durationMs = serializers.IntegerField(source="duration_ms", allow_null=True)
    originalId = serializers.UUIDField(
        source="original_id", allow_null=True, help_text="The execution this one replays (`POST .../replay`)."
    )

    class Meta:
        model = Execution
        fields = [
            "id",
            "flowId",
            "namespace",
            "status",
            "tasksTotal",
            "tasksExecuted",
            "inputs",
            "labels",
            "outputs",
            "error",
            "startedAt",
            "finishedAt",
            "durationMs",
            "originalId",
        ]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_error(self, execution: Execution) -> str | None:
        return execution.error or None


# A dialect-qualified component name: the whole-server schema also has workflowsvc's Task.
@extend_schema_serializer(component_name="WorkflowdevTask")
class TaskSerializer(serializers.ModelSerializer):
    taskName = serializers.CharField(source="name")
    taskType = serializers.CharField(source="plugin_type")
    outputs = serializers.SerializerMethodField(help_text="The task's outputs as a JSON string.")
    error = serializers.SerializerMethodField()
    approvalId = serializers.SerializerMethodField(help_text="Approval gates only.")
    startedAt = serializers.DateTimeField(source="started_at", allow_null=True)
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)

    class Meta:
        model = TaskRun
        fields = [
            "id",
            "taskName",
            "taskType",
            "status",
            "attempt",
            "outputs",
            "error",
            "approvalId",
            "startedAt",
            "finishedAt",
        ]

    def get_outputs(self, run: TaskRun) -> str:
        return json.dumps({} if run.outputs is None else run.outputs, separators=(",", ":"), default=str)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_error(self, run: TaskRun) -> str | None:
        return run.error or None

    @extend_schema_field(OpenApiTypes.UUID)
    def get_approvalId(self, run: TaskRun) -> str | None:
        try:
            return str(run.approval.pk)
        except ObjectDoesNotExist:
            return None


class ExecutionDetailSerializer(serializers.Serializer):
    execution = ExecutionSerializer()
    tasks = TaskSerializer(many=True)


def execution_detail(execution: Execution, runs: Any) -> dict[str, Any]:
    return ExecutionDetailSerializer({"execution": execution, "tasks": runs}).data


class ApprovalSerializer(serializers.ModelSerializer):
    executionId = serializers.UUIDField(source="execution_id")
    taskName = serializers.CharField(source="task_run.name")
    message = serializers.SerializerMethodField(
        help_text="What the gate asks (its `message` property, rendered); null when it sets none."
    )
    decidedBy = serializers.CharField(source="decided_by.username", default=None, allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    decidedAt = serializers.DateTimeField(source="decided_at", allow_null=True)

    class Meta:
        model = Approval
        fields = [
            "id",
            "executionId",
            "taskName",
            "message",
            "status",
            "decidedBy",
            "comment",
            "createdAt",
            "decidedAt",
        ]

    def get_message(self, approval: Approval) -> str | None:
        """The gate's rendered inputs hold the question (secrets masked, as on the task)."""
        inputs = approval.task_run.inputs
        message = inputs.get("message") if isinstance(inputs, dict) else None
        return None if message is None else str(message)


class DecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=10000)


class ReplayResponseSerializer(serializers.Serializer):
    executionId = serializers.UUIDField(help_text="The new execution, linked to the replayed one (`originalId`).")
