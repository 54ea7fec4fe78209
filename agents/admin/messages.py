"""Console list of agent messages (executions: `message`): what agents emitted.

One added here is a manual message, sent through `message_create` like the API's, which wakes
the agent's receivers.
"""

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.text import Truncator

from accounts.admin_scoping import NamespaceListFilter, NamespaceScopedAdmin, adopt
from accounts.roles import Role
from accounts.selectors import scope_to_namespaces
from agents.services import message_create
from executions.admin.timeline import pretty
from executions.models import Message
from flows.models import Agent


class MessageForm(forms.ModelForm):
    """A manual message: the agent that emits it and its payload (a JSON object)."""

    class Meta:
        model = Message
        fields = ("agent", "payload")

    def clean_payload(self) -> Any:
        payload = self.cleaned_data.get("payload")
        if not isinstance(payload, dict):
            raise forms.ValidationError("The payload is a JSON object.")
        return payload


@admin.register(Message)
class MessageAdmin(NamespaceScopedAdmin):
    """Messages are what agents emitted; one added here is a manual message, sent like the API's."""

    namespace_field = "agent__namespace"
    edit_actions = frozenset({"add", "delete"})
    form = MessageForm
    list_display = ("id", "agent", "in_namespace", "created_at", "expires_at", "preview")
    list_filter = (NamespaceListFilter, ("agent", admin.RelatedOnlyFieldListFilter), "created_at")
    search_fields = ("agent__name",)
    list_select_related = ("agent__namespace",)
    date_hierarchy = "created_at"
    readonly_fields = ("uuid", "created_at", "expires_at", "payload_text")

    def get_fields(self, request: HttpRequest, obj: Message | None = None) -> tuple[str, ...]:
        return ("agent", "payload") if obj is None else ("agent", "uuid", "created_at", "expires_at", "payload_text")

    @admin.display(description="payload")
    def preview(self, obj: Message) -> str:
        return Truncator(json.dumps(obj.payload, ensure_ascii=False)).chars(80)

    @admin.display(description="payload")
    def payload_text(self, obj: Message) -> str:
        return pretty(obj.payload)

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Sending a message is run control: executors may, as `message_create` checks."""
        return self.role_allows(request, None, Role.EXECUTOR)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "agent":
            agents = Agent.objects.select_related("namespace")
            kwargs["queryset"] = scope_to_namespaces(agents, account=request.user, minimum=Role.EXECUTOR)
            return admin.ModelAdmin.formfield_for_foreignkey(self, db_field, request, **kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Message, form: Any, change: bool) -> None:
        adopt(obj, message_create(actor=request.user, agent=obj.agent, payload=form.cleaned_data["payload"]))
