"""FlowRunner shapes: snake_case, ISO timestamps with Z."""

from rest_framework import serializers

from accounts.models import Account
from accounts.roles import Role


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=512, trim_whitespace=False)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()
    account_id = serializers.UUIDField(source="account.id")


class MessageSerializer(serializers.Serializer):
    message = serializers.CharField()


class AccountSerializer(serializers.ModelSerializer):
    created_at = serializers.DateTimeField(source="date_joined", read_only=True)

    class Meta:
        model = Account
        fields = ["id", "name", "email", "role", "created_at", "updated_at"]


class AccountCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    username = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    password = serializers.CharField(max_length=512, trim_whitespace=False)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.USER)
    namespace = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("email") and not attrs.get("username"):
            raise serializers.ValidationError({"email": "An email or a username is required."})
        return attrs


class AccountUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    password = serializers.CharField(max_length=512, required=False, trim_whitespace=False)
    role = serializers.ChoiceField(choices=Role.choices, required=False)
