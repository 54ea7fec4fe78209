"""workflowdev shapes of triggers, plugins, credentials, KV entries, namespaces and members."""

from typing import Any

from rest_framework import serializers

from accounts.models import Namespace
from accounts.roles import Role
from flows.models import Trigger
from vault.models import KeyValue, Secret

TYPE_FIELDS = {
    "webhook": ("key",),
    "schedule": ("cron", "timezone", "recoverMissedSchedules"),
    "flow": ("sourceFlowId", "statuses"),
    "agent": ("agentId",),
}
ALL_TYPE_FIELDS = {name for names in TYPE_FIELDS.values() for name in names}


class TriggerSerializer(serializers.ModelSerializer):
    """Only the fields of the trigger's own type; the webhook key only for executor and up.

    `context["can_fire"]` (a callable taking the trigger) decides who sees keys.
    """

    flowId = serializers.UUIDField(source="flow_id")
    key = serializers.CharField(required=False, allow_null=True, help_text="Webhook triggers.")
    cron = serializers.CharField(required=False, help_text="Schedule triggers.")
    timezone = serializers.CharField(required=False, help_text="Schedule triggers.")
    recoverMissedSchedules = serializers.CharField(
        source="recover_missed", required=False, help_text="Schedule triggers: ALL, LAST or NONE."
    )
    sourceFlowId = serializers.UUIDField(source="source_flow_id", required=False, help_text="Flow triggers.")
    statuses = serializers.ListField(child=serializers.CharField(), required=False, help_text="Flow triggers.")
    agentId = serializers.UUIDField(
        source="source_agent_id", required=False, help_text="Agent triggers: the agent whose messages start the flow."
    )
    fromDefinition = serializers.BooleanField(source="from_definition")
    nextFireAt = serializers.DateTimeField(source="next_fire_at", allow_null=True)
    lastFiredAt = serializers.DateTimeField(source="last_fired_at", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    class Meta:
        model = Trigger
        fields = [
            "id",
            "flowId",
            "name",
            "type",
            "enabled",
            "inputs",
            "key",
            "cron",
            "timezone",
            "recoverMissedSchedules",
            "sourceFlowId",
            "statuses",
            "agentId",
            "fromDefinition",
            "nextFireAt",
            "lastFiredAt",
            "createdAt",
            "updatedAt",
        ]

    def to_representation(self, trigger: Trigger) -> dict[str, Any]:
        data = super().to_representation(trigger)
        for name in ALL_TYPE_FIELDS - set(TYPE_FIELDS.get(trigger.type, ())):
            data.pop(name, None)
        can_fire = self.context.get("can_fire")
        if "key" in data and (can_fire is None or not can_fire(trigger)):
            data["key"] = None
        return data


class TriggerWriteSerializer(serializers.Serializer):
    """Create needs `flowId` and `type`; update takes any subset."""

    flowId = serializers.UUIDField()
    type = serializers.ChoiceField(choices=Trigger.Type.choices)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)
    inputs = serializers.DictField(required=False)
    key = serializers.CharField(
        max_length=200,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="Webhook triggers: leave it out for a generated key; a chosen one needs 32 or more random "
        "URL-safe characters.",
    )
    cron = serializers.CharField(max_length=120, required=False, allow_blank=True)
    timezone = serializers.CharField(max_length=64, required=False, allow_blank=True)
    recoverMissedSchedules = serializers.CharField(
        max_length=4,
        required=False,
        help_text="Schedule triggers: what ticks missed while no worker ran start (ALL, LAST, NONE); default LAST.",
    )
    sourceFlowId = serializers.UUIDField(required=False, allow_null=True)
    statuses = serializers.ListField(child=serializers.CharField(), required=False)
    agentId = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="Agent triggers: an agent of the flow's namespace; each message it emits starts the flow.",
    )

    RENAMES = {
        "sourceFlowId": "source_flow_id",
        "recoverMissedSchedules": "recover_missed",
        "agentId": "source_agent_id",
    }

    def service_fields(self) -> dict[str, Any]:
        """The validated body as the trigger services name their keyword arguments."""
        data = dict(self.validated_data)
        data.pop("flowId", None)
        return {self.RENAMES.get(name, name): value for name, value in data.items()}


class BackfillSerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text="First moment of the range (included).")
    end = serializers.DateTimeField(help_text="End of the range (excluded).")
    inputs = serializers.DictField(required=False, help_text="Merged over the trigger's own inputs.")


class BackfillResponseSerializer(serializers.Serializer):
    executions = serializers.IntegerField(help_text="How many executions were started, one per tick.")


class WebhookResponseSerializer(serializers.Serializer):
    executionId = serializers.UUIDField()
    status = serializers.CharField()
    tasksTotal = serializers.IntegerField(required=False)
    outputs = serializers.JSONField(required=False, help_text="With ?wait=true.")


class PluginSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    category = serializers.CharField()
    description = serializers.CharField()
    inputSchema = serializers.JSONField()
    outputSchema = serializers.JSONField()
    documentation = serializers.CharField(help_text="What the plugin does and how, in Markdown.")
    example = serializers.CharField(help_text="A task using it, in the workflowdev `tasks` format (YAML).")
    aliases = serializers.ListField(child=serializers.CharField(), help_text="Other type names that run it.")


class CredentialSerializer(serializers.ModelSerializer):
    """Never the value, not even encrypted."""

    namespace = serializers.CharField(source="namespace.name")
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    class Meta:
        model = Secret
        fields = ["id", "name", "namespace", "description", "createdAt", "updatedAt"]


class CredentialWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    namespace = serializers.CharField(max_length=100, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    value = serializers.CharField(trim_whitespace=False, write_only=True)


class KeyValueSerializer(serializers.ModelSerializer):
    namespace = serializers.CharField(source="namespace.name")
    value = serializers.JSONField(allow_null=True)
    expiresAt = serializers.DateTimeField(source="expires_at", allow_null=True)
    updatedAt = serializers.DateTimeField(source="updated_at")

    class Meta:
        model = KeyValue
        fields = ["namespace", "key", "value", "expiresAt", "updatedAt"]


class KeyListItemSerializer(serializers.ModelSerializer):
    expiresAt = serializers.DateTimeField(source="expires_at", allow_null=True)
    updatedAt = serializers.DateTimeField(source="updated_at")

    class Meta:
        model = KeyValue
        fields = ["key", "expiresAt", "updatedAt"]


class KeyValueWriteSerializer(serializers.Serializer):
    value = serializers.JSONField(allow_null=True, help_text="Any JSON value.")
    ttl = serializers.IntegerField(required=False, allow_null=True, min_value=1, help_text="Seconds.")


class NamespaceSerializer(serializers.ModelSerializer):
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    class Meta:
        model = Namespace
        fields = ["id", "name", "description", "createdAt", "updatedAt"]


class NamespaceWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class NamespacePatchSerializer(serializers.Serializer):
    description = serializers.CharField(allow_blank=True)


class MemberSerializer(serializers.Serializer):
    """An `accounts.selectors.NamespaceMember`."""

    accountId = serializers.UUIDField(source="account_id")
    username = serializers.CharField()
    role = serializers.CharField()
    source = serializers.ChoiceField(choices=["default", "membership"], help_text="Where the role comes from.")


class MemberWriteSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=[Role.VIEWER, Role.EXECUTOR, Role.EDITOR, Role.ADMIN])
