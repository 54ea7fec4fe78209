"""Console pages for ActiveWorkflow agents, saved through the agent services like the API's.

The form takes the options as JSON and the sources and workflows as choices of the agent's
namespace; `agent_validate` checks it (types, options, schedule, secret names the saver may
use), then `agent_create`/`agent_update` write it, so a new source starts at its newest
message and re-enabling skips what was emitted meanwhile. The pages beside it (run now, manual
message, messages and logs, workflow graphs, import) are in `agents.admin.pages`.
"""

import json
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.admin_scoping import NamespaceListFilter, NamespaceScopedAdmin, adopt
from accounts.roles import Role
from accounts.selectors import namespace_ids_for, scope_to_namespaces
from agents.admin.pages import AgentPagesMixin
from agents.errors import agent_error
from agents.logic_types import WebhookAgent
from agents.services import (
    agent_create,
    agent_delete,
    agent_run,
    agent_type_or_none,
    agent_update,
    agent_validate,
    message_create,
)
from agents.types import huginn_types
from core import jsonlimits
from core.errors import MillraceError, ValidationFailed
from flows.models import Agent, Flow

FORM_FIELD_OF = {"sources": "source_agents", "workflow_ids": "workflows"}  # service names → form fields
MASK = "******"
EDITABLE = ("name", "type", "options", "schedule", "disabled", "keep_messages_for", "source_agents", "workflows")


class PrettyJSONField(forms.JSONField):
    """Options shown indented, so they can be read and edited as JSON."""

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False, cls=self.encoder)


class AgentForm(forms.ModelForm):
    """An agent as the services take it: options as JSON, sources and workflows by choice."""

    actor: Any = None  # set by AgentAdmin.get_form

    source_agents = forms.ModelMultipleChoiceField(
        queryset=Agent.objects.none(),
        required=False,
        label="Sources",
        widget=FilteredSelectMultiple("sources", is_stacked=False),
        help_text="Agents of the same namespace whose messages this one receives.",
    )
    workflows = forms.ModelMultipleChoiceField(
        queryset=Flow.objects.none(),
        required=False,
        widget=FilteredSelectMultiple("workflows", is_stacked=False),
        help_text="The workflows (flows of the same namespace) this agent belongs to.",
    )

    class Meta:
        model = Agent
        fields = ("namespace", "name", "type", "options", "schedule", "disabled", "keep_messages_for")
        field_classes = {"options": PrettyJSONField}
        widgets = {"options": forms.Textarea(attrs={"rows": 14, "cols": 80, "spellcheck": "false", "class": "mono"})}
        help_texts = {
            "options": "A JSON object; values are templates rendered with the incoming `message`.",
            "schedule": "every_1m … every_7d, midnight, 1am … 11pm, never, or a cron expression.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:
            self.fields["source_agents"].initial = list(self.instance.sources.values_list("pk", flat=True))
            self.fields["workflows"].initial = list(self.instance.flows.values_list("pk", flat=True))

    def service_values(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data.get("name", ""),
            "type": data.get("type", ""),
            "options": data.get("options") if data.get("options") is not None else {},
            "schedule": data.get("schedule") or "never",
            "disabled": bool(data.get("disabled")),
            "keep_messages_for": data.get("keep_messages_for"),
            "source_ids": [agent.pk for agent in data.get("source_agents") or []],
            "workflow_ids": [flow.pk for flow in data.get("workflows") or []],
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        existing = not self.instance._state.adding
        namespace = self.instance.namespace if existing else data.get("namespace")
        if self.errors or namespace is None:
            return data
        try:
            agent_validate(
                actor=self.actor,
                namespace=namespace,
                agent=self.instance if existing else None,
                **self.service_values(),
            )
        except ValidationFailed as exc:
            for detail in exc.details or [{"reason": exc.message}]:
                field = FORM_FIELD_OF.get(detail.get("field"), detail.get("field"))
                self.add_error(field if field in self.fields else None, detail.get("reason") or exc.message)
        except MillraceError as exc:
            self.add_error(None, exc.message)
        return data


class AgentActionForm(ActionForm):
    """The changelist's action bar, plus the JSON payload that "send a manual message" sends."""

    payload = forms.CharField(required=False, label="Payload (JSON object)", widget=forms.TextInput(attrs={"size": 40}))


@admin.register(Agent)
class AgentAdmin(AgentPagesMixin, NamespaceScopedAdmin):
    form = AgentForm
    list_display = ("name", "namespace", "kind", "schedule", "enabled", "last_run", "working")
    list_filter = (NamespaceListFilter, "disabled", "type", ("flows", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "type")
    list_select_related = ("namespace",)
    readonly_fields = ("last_run_at", "error", "created_by", "options_saved_by", "created_at", "updated_at")
    action_form = AgentActionForm
    actions = ("run_now", "send_manual_message")

    @admin.display(description="type", ordering="type")
    def kind(self, obj: Agent) -> str:
        """Huginn's types without their common `Agents::` prefix (the filter names them in full)."""
        return obj.type.removeprefix("Agents::")

    @admin.display(description="enabled", boolean=True, ordering="disabled")
    def enabled(self, obj: Agent) -> bool:
        """A check for a running agent, a cross for a disabled one (the flag itself reads backwards)."""
        return not obj.disabled

    @admin.display(description="last run", ordering="last_run_at")
    def last_run(self, obj: Agent) -> str:
        return obj.last_run_at.strftime("%Y-%m-%d %H:%M") if obj.last_run_at else "—"

    @admin.display(description="no error", boolean=True, ordering="last_error")
    def working(self, obj: Agent) -> bool:
        """A cross when its last run failed (the error is on its page), a check otherwise."""
        return not obj.last_error

    @admin.display(description="last error")
    def error(self, obj: Agent) -> str:
        """The error's text, its time after it (stored the other way round)."""
        found = agent_error(obj.last_error)
        return f"{found.text} ({found.at:%Y-%m-%d %H:%M:%S})" if found.at else found.text

    @admin.display(description="options")
    def options_shown(self, obj: Agent) -> str:
        """Options for readers: a WebhookAgent's secret is its URL's credential, kept from viewers."""
        options = dict(obj.options or {})
        if isinstance(agent_type_or_none(obj.type), WebhookAgent) and "secret" in options:
            options["secret"] = MASK
        return json.dumps(options, indent=2, ensure_ascii=False)

    def get_fields(self, request: HttpRequest, obj: Agent | None = None) -> list[str]:
        editable = list(EDITABLE)
        if obj is None:
            return ["namespace", *editable]
        if not self.has_change_permission(request, obj):
            shown = ["name", "type", "options_shown", "schedule", "disabled", "keep_messages_for"]
            return ["namespace", *shown, *self.readonly_fields]
        return ["namespace", *editable, *self.readonly_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Agent | None = None) -> tuple[str, ...]:
        """An agent stays in its namespace; run times, errors and savers are the runtime's."""
        if obj is None:
            return ()
        if not self.has_change_permission(request, obj):
            return ("namespace", "options_shown", *self.readonly_fields)
        return ("namespace", *self.readonly_fields)

    def get_form(self, request: HttpRequest, obj: Agent | None = None, change: bool = False, **kwargs: Any) -> Any:
        """Sources and workflows of the agent's namespace (on a new agent: of the caller's editable ones)."""
        form = super().get_form(request, obj, change=change, **kwargs)
        form.actor = request.user
        if "type" in form.base_fields:
            names = ", ".join(huginn_types())
            form.base_fields["type"].help_text = f"A plugin id (such as http.request) or one of {names}."
        agents = Agent.objects.select_related("namespace")
        flows = Flow.objects.select_related("namespace")
        if obj is not None:
            agents = agents.filter(namespace_id=obj.namespace_id).exclude(pk=obj.pk)
            flows = flows.filter(namespace_id=obj.namespace_id)
        else:
            agents = scope_to_namespaces(agents, account=request.user, minimum=Role.EDITOR)
            flows = scope_to_namespaces(flows, account=request.user, minimum=Role.EDITOR)
        if "source_agents" in form.base_fields:
            form.base_fields["source_agents"].queryset = agents
            form.base_fields["workflows"].queryset = flows
        return form

    def save_model(self, request: HttpRequest, obj: Agent, form: Any, change: bool) -> None:
        """Through `agent_create`/`agent_update`: validated again, links and cursors set, audited."""
        values = form.service_values()
        if change:
            saved = agent_update(actor=request.user, agent=obj, **values)
        else:
            saved = agent_create(actor=request.user, namespace=form.cleaned_data["namespace"], **values)
        adopt(obj, saved)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Sources and workflows were written by the service with the agent."""

    def delete_model(self, request: HttpRequest, obj: Agent) -> None:
        agent_delete(actor=request.user, agent=obj)

    # --- changelist actions ----------------------------------------------------------------

    def has_execute_permission(self, request: HttpRequest) -> bool:
        ids = namespace_ids_for(request.user, Role.EXECUTOR)
        return ids is None or bool(ids)

    def _each(self, request: HttpRequest, queryset: QuerySet, act: Callable[[Agent], Any], done: str) -> None:
        """Apply a service call to each agent; the service checks the role per namespace."""
        count = 0
        for agent in queryset.select_related("namespace"):
            try:
                act(agent)
                count += 1
            except MillraceError as exc:
                self.message_user(request, f"{agent.name}: {exc.message}", messages.ERROR)
        if count:
            self.message_user(request, f"{done}: {count} agent(s).", messages.SUCCESS)

    @admin.action(description="Run now", permissions=["execute"])
    def run_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, lambda agent: agent_run(actor=request.user, agent=agent), "Queued a run")

    @admin.action(description="Send a manual message (payload above)", permissions=["execute"])
    def send_manual_message(self, request: HttpRequest, queryset: QuerySet) -> None:
        try:
            payload = jsonlimits.loads(request.POST.get("payload") or "{}")
        except ValueError as exc:
            self.message_user(request, f"The payload is not JSON: {exc}", messages.ERROR)
            return
        self._each(
            request,
            queryset,
            lambda agent: message_create(actor=request.user, agent=agent, payload=payload),
            "Sent a message",
        )
