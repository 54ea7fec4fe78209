"""workflowdev shapes of accounts, tokens and audit entries: camelCase."""

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from accounts.models import Account, AuditEntry
from accounts.roles import Role
from accounts.selectors import email_visible


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
    """An account; `email` only for global admins and the account itself (null for anyone else).

    The viewer is the context's `viewer`."""

    id = serializers.UUIDField()
    username = serializers.CharField()
    email = serializers.CharField(allow_null=True, help_text="Null unless you are a global admin or this account.")
    role = serializers.CharField()
    namespace = serializers.CharField(source="default_namespace.name", default=None)
    createdAt = serializers.DateTimeField(source="date_joined")

    def to_representation(self, instance: Account) -> dict:
        data = super().to_representation(instance)
        if not email_visible(viewer=self.context.get("viewer"), account=instance):
            data["email"] = None
        return data


class AuditEntrySerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name")
    actorId = serializers.UUIDField(source="actor_id", allow_null=True)
    resourceType = serializers.CharField(source="resource_type")
    resourceId = serializers.CharField(source="resource_id")
    createdAt = serializers.DateTimeField(source="created_at")

    class Meta:
        model = AuditEntry
        fields = ["id", "actor", "actorId", "action", "resourceType", "resourceId", "namespace", "summary", "createdAt"]
