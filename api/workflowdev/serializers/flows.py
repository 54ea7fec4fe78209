"""workflowdev shapes of flows, validation results, revisions, exports and execute answers."""

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from flows.models import Flow, FlowRevision, Trigger


# A dialect-qualified component name: the whole-server schema also has FlowRunner's Flow.
@extend_schema_serializer(component_name="WorkflowdevFlow")
class FlowSerializer(serializers.ModelSerializer):
    namespace = serializers.CharField(source="namespace.name")
    yamlContent = serializers.CharField(source="source")
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    class Meta:
        model = Flow
        fields = ["id", "name", "namespace", "description", "yamlContent", "revision", "createdAt", "updatedAt"]


class FlowWriteSerializer(serializers.Serializer):
    """Create needs `yamlContent`; `name` defaults to the YAML's, `namespace` to the YAML's or yours."""

    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    namespace = serializers.CharField(max_length=100, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    yamlContent = serializers.CharField(trim_whitespace=False)


class ProblemSerializer(serializers.Serializer):
    path = serializers.CharField()
    line = serializers.IntegerField(allow_null=True)
    message = serializers.CharField()


class ValidateRequestSerializer(serializers.Serializer):
    yamlContent = serializers.CharField(trim_whitespace=False, allow_blank=True)
    namespace = serializers.CharField(required=False, allow_blank=True, help_text="Check ${NAME} against it.")


class ValidationResultSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    errors = ProblemSerializer(many=True)


class RevisionSerializer(serializers.ModelSerializer):
    revision = serializers.IntegerField(source="number")
    createdAt = serializers.DateTimeField(source="created_at")
    createdBy = serializers.CharField(source="created_by.username", default=None, allow_null=True)

    class Meta:
        model = FlowRevision
        fields = ["revision", "createdAt", "createdBy"]


class ExportedFlowSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    namespace = serializers.CharField(max_length=100, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    yamlContent = serializers.CharField(trim_whitespace=False)
    revision = serializers.IntegerField(required=False)


class ExportedTriggerSerializer(serializers.Serializer):
    """A trigger as exported: no webhook key (a key is a credential; import makes a new one)."""

    name = serializers.CharField(required=False, allow_blank=True, default="")
    type = serializers.ChoiceField(choices=Trigger.Type.choices)
    enabled = serializers.BooleanField(default=True)
    inputs = serializers.DictField(required=False, default=dict)
    cron = serializers.CharField(required=False, allow_blank=True)
    timezone = serializers.CharField(required=False, allow_blank=True)
    sourceFlowName = serializers.CharField(required=False, allow_blank=True)
    statuses = serializers.ListField(child=serializers.CharField(), required=False)
    fromDefinition = serializers.BooleanField(default=False)


class FlowExportSerializer(serializers.Serializer):
    version = serializers.IntegerField(default=1)
    exportedAt = serializers.DateTimeField(required=False)
    flow = ExportedFlowSerializer()
    triggers = ExportedTriggerSerializer(many=True, required=False, default=list)


class ExecuteResponseSerializer(serializers.Serializer):
    executionId = serializers.UUIDField()
    status = serializers.CharField()
    tasksTotal = serializers.IntegerField()
