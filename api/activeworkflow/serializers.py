"""ActiveWorkflow shapes: agents, messages and workflows as the reference shows them (snake_case)."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.timefmt import isoformat
from executions.models import Message
from flows.models import Agent


class IsoDateTimeField(serializers.DateTimeField):
    """UTC with a `Z`, like every dialect."""

    def to_representation(self, value: Any) -> str | None:
        return isoformat(value)


class SourceSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)


class AgentSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(read_only=True)
    type = serializers.CharField(read_only=True)
    disabled = serializers.BooleanField(read_only=True)
    # not yet expired: `agents.selectors.with_counts`
    messages_count = serializers.IntegerField(source="live_messages_count", read_only=True)
    sources = serializers.SerializerMethodField()

    @extend_schema_field(SourceSerializer(many=True))
    def get_sources(self, agent: Agent) -> list[dict[str, str]]:
        return [{"id": str(link.source_id)} for link in agent.incoming_links.all()]


class MessageSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    agent_id = serializers.UUIDField(read_only=True)
    created_at = IsoDateTimeField(read_only=True)
    expires_at = IsoDateTimeField(read_only=True, allow_null=True)


class MessageDetailSerializer(MessageSerializer):
    payload = serializers.JSONField(read_only=True)


class WorkflowSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)


class WorkflowDetailSerializer(WorkflowSerializer):
    agents = serializers.SerializerMethodField()

    @extend_schema_field(AgentSerializer(many=True))
    def get_agents(self, flow: Any) -> list[dict[str, Any]]:
        return AgentSerializer(self.context["agents"], many=True).data


class AgentWriteSerializer(serializers.Serializer):
    """Create (`name` and `type` required) and update (any subset) bodies."""

    name = serializers.CharField(max_length=200)
    type = serializers.CharField(max_length=120)
    namespace = serializers.CharField(required=False, allow_blank=True, help_text="Default: your default namespace.")
    options = serializers.DictField(required=False, child=serializers.JSONField(allow_null=True))
    schedule = serializers.CharField(required=False, allow_blank=True, help_text="every_5m, midnight, 7pm, never, cron")
    disabled = serializers.BooleanField(required=False)
    sources = serializers.ListField(child=serializers.CharField(), required=False, help_text="Agent ids.")
    workflow_ids = serializers.ListField(child=serializers.CharField(), required=False)
    keep_messages_for = serializers.IntegerField(required=False, allow_null=True, min_value=0, help_text="Seconds.")


class ManualMessageSerializer(serializers.Serializer):
    payload = serializers.DictField(child=serializers.JSONField(allow_null=True))


class WorkflowImportSerializer(serializers.Serializer):
    """An exported workflow document, plus where to put it."""

    namespace = serializers.CharField(required=False, allow_blank=True, help_text="Default: your default namespace.")
    name = serializers.CharField(required=False, allow_blank=True, help_text="Default: the document's name.")
    schema_version = serializers.IntegerField(required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    agents = serializers.ListField(child=serializers.DictField(child=serializers.JSONField(allow_null=True)))
    links = serializers.ListField(child=serializers.DictField(child=serializers.IntegerField()), required=False)
    control_links = serializers.ListField(child=serializers.DictField(child=serializers.IntegerField()), required=False)


def message_shape(message: Message, *, payload: bool = False) -> dict[str, Any]:
    return (MessageDetailSerializer if payload else MessageSerializer)(message).data
