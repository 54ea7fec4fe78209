"""workflowdev shapes of accounts, tokens and audit entries: camelCase."""

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from accounts.models import AuditEntry
from accounts.roles import Role


class CredentialsSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=512, trim_whitespace=False)


class RegisterSerializer(CredentialsSerializer):
    role = serializers.ChoiceField(choices=Role.choices, default=Role.VIEWER)
    # No default "" on the e-mail: the schema would show a default its own `format: email` refuses.
    email = serializers.EmailField(required=False, allow_blank=True)
    namespace = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict) -> dict:
        attrs.setdefault("email", "")
        return attrs


# A dialect-qualified component name: the whole-server schema also has FlowRunner's Token.
@extend_schema_serializer(component_name="WorkflowdevToken")
class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    expiresAt = serializers.DateTimeField(source="expires_at")
    accountId = serializers.UUIDField(source="account.id")
    username = serializers.CharField(source="account.username")
    role = serializers.CharField(source="account.role")


# A dialect-qualified component name: the whole-server schema also has FlowRunner's Account.
@extend_schema_serializer(component_name="WorkflowdevAccount")
class AccountSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField()
    email = serializers.CharField()
    role = serializers.CharField()
    namespace = serializers.CharField(source="default_namespace.name", default=None)
    createdAt = serializers.DateTimeField(source="date_joined")


class AuditEntrySerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name")
    actorId = serializers.UUIDField(source="actor_id", allow_null=True)
    resourceType = serializers.CharField(source="resource_type")
    resourceId = serializers.CharField(source="resource_id")
    createdAt = serializers.DateTimeField(source="created_at")

    class Meta:
        model = AuditEntry
        fields = ["id", "actor", "actorId", "action", "resourceType", "resourceId", "namespace", "summary", "createdAt"]
