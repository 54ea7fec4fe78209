"""FlowRunner shapes: snake_case, ISO timestamps with Z."""

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from accounts.models import Account
from accounts.roles import Role
from accounts.selectors import email_visible
from api.flowrunner.events import LOG_LEVELS, execution_error, log_data, status_word
from executions.models import Execution, ExecutionEvent
from flows.models import Flow
from vault.services import SECRET_NAME


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=512, trim_whitespace=False)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()
    account_id = serializers.UUIDField(source="account.id")


# Not "Message": the whole-server schema also has ActiveWorkflow's Message.
@extend_schema_serializer(component_name="Confirmation")
class MessageSerializer(serializers.Serializer):
    message = serializers.CharField()


class AccountSerializer(serializers.ModelSerializer):
    """An account; `email` only for global admins and the account itself (null for anyone else).

    The viewer comes from the context's `request`."""

    created_at = serializers.DateTimeField(source="date_joined", read_only=True)
    email = serializers.EmailField(allow_null=True, help_text="Null unless you are a global admin or this account.")

    class Meta:
        model = Account
        fields = ["id", "name", "email", "role", "created_at", "updated_at"]

    def to_representation(self, instance: Account) -> dict:
        data = super().to_representation(instance)
        request = self.context.get("request")
        viewer = getattr(request, "user", None)
        if not email_visible(viewer=viewer if isinstance(viewer, Account) else None, account=instance):
            data["email"] = None
        return data


@extend_schema_serializer(many=False)
class AccountListSerializer(serializers.Serializer):
    accounts = AccountSerializer(many=True)
    total = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()


class AccountCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    # No default "" on the e-mail: the schema would show a default its own `format: email` refuses.
    email = serializers.EmailField(required=False, allow_blank=True)
    username = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    password = serializers.CharField(max_length=512, trim_whitespace=False)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.USER)
    namespace = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("email") and not attrs.get("username"):
            raise serializers.ValidationError({"email": "An email or a username is required."})
        attrs.setdefault("email", "")
        return attrs


class AccountUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    password = serializers.CharField(max_length=512, required=False, trim_whitespace=False)
    current_password = serializers.CharField(
        max_length=512,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        write_only=True,
        help_text="Required with `password` when changing one's own password; not for an admin's reset of another.",
    )
    role = serializers.ChoiceField(choices=Role.choices, required=False)


# --- flows ----------------------------------------------------------------------------------


class FlowSerializer(serializers.ModelSerializer):
    tags = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = Flow
        fields = ["id", "name", "description", "version", "created_at", "updated_at", "tags"]


class FlowDetailSerializer(FlowSerializer):
    definition = serializers.CharField(source="source", help_text="The YAML definition, exactly as submitted.")

    class Meta(FlowSerializer.Meta):
        fields = ["id", "name", "description", "version", "definition", "created_at", "updated_at", "tags"]


class FlowUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    definition = serializers.CharField(required=False, trim_whitespace=False, help_text="YAML (nodes format).")
    tags = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=100)


class FlowCreateSerializer(FlowUpdateSerializer):
    definition = serializers.CharField(trim_whitespace=False, help_text="YAML (nodes format).")


@extend_schema_serializer(many=False)
class FlowListSerializer(serializers.Serializer):
    flows = FlowSerializer(many=True)
    total = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()


class RunSerializer(serializers.Serializer):
    input = serializers.DictField(required=False, allow_null=True, default=dict)
    labels = serializers.JSONField(
        required=False, allow_null=True, default=None, help_text="Labels added to the flow's own (string values)."
    )


# --- executions -----------------------------------------------------------------------------

STATUS_WORDS = ["running", "paused", "completed", "failed", "cancelled"]  # named in ENUM_NAME_OVERRIDES
STATUS_FIELD = serializers.ChoiceField(choices=STATUS_WORDS)


class RunResponseSerializer(serializers.Serializer):
    execution_id = serializers.UUIDField(source="id")
    flow_id = serializers.UUIDField(allow_null=True)
    status = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    @extend_schema_field(STATUS_FIELD)
    def get_status(self, execution: Execution) -> str:
        return status_word(execution.status)


class ExecutionSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    flow_id = serializers.UUIDField(allow_null=True)
    status = serializers.SerializerMethodField()
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(source="finished_at", allow_null=True)
    duration = serializers.IntegerField(source="duration_ms", allow_null=True, help_text="Milliseconds.")
    error = serializers.SerializerMethodField()

    @extend_schema_field(STATUS_FIELD)
    def get_status(self, execution: Execution) -> str:
        return status_word(execution.status)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_error(self, execution: Execution) -> str | None:
        return execution_error(execution)


class ExecutionSerializer(ExecutionSummarySerializer):
    input = serializers.JSONField(source="inputs")
    result = serializers.JSONField(source="outputs", allow_null=True)
    labels = serializers.DictField(child=serializers.CharField())

    class Meta:
        fields = [
            "id",
            "flow_id",
            "status",
            "input",
            "result",
            "started_at",
            "completed_at",
            "duration",
            "error",
            "labels",
        ]

    def to_representation(self, instance: Execution) -> dict:
        data = super().to_representation(instance)
        return {key: data[key] for key in self.Meta.fields}


@extend_schema_serializer(many=False)
class ExecutionListSerializer(serializers.Serializer):
    executions = ExecutionSummarySerializer(many=True)
    total = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()


class LogEntrySerializer(serializers.Serializer):
    timestamp = serializers.DateTimeField(source="created_at")
    level = serializers.ChoiceField(choices=list(LOG_LEVELS))
    message = serializers.CharField()
    node_id = serializers.CharField(source="task_run.step_id", allow_null=True)
    node_type = serializers.CharField(source="task_run.plugin_type", allow_null=True)
    data = serializers.SerializerMethodField()

    @extend_schema_field(serializers.JSONField(allow_null=True))
    def get_data(self, event: ExecutionEvent) -> object:
        return log_data(event)


@extend_schema_serializer(many=False)
class LogListSerializer(serializers.Serializer):
    logs = LogEntrySerializer(many=True)
    total = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()


# --- secrets --------------------------------------------------------------------------------


class SecretSerializer(serializers.Serializer):
    key = serializers.CharField(source="name")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class SecretCreateSerializer(serializers.Serializer):
    key = serializers.RegexField(
        SECRET_NAME, max_length=200, error_messages={"invalid": "Letters, digits, '_', '.', '-'; no leading digit."}
    )
    value = serializers.CharField(trim_whitespace=False, max_length=65_536)


class SecretListSerializer(serializers.Serializer):
    secrets = SecretSerializer(many=True)
