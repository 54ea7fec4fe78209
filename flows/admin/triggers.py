"""Console pages for triggers, saved through the trigger services."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from accounts.admin_scoping import NamespaceListFilter, NamespaceScopedAdmin, adopt
from accounts.roles import Role
from core.errors import MillraceError, ValidationFailed
from flows.admin.trigger_pages import TriggerPagesMixin, can_backfill
from flows.models import Agent, Flow, Trigger
from flows.triggers import trigger_create, trigger_update, trigger_validate

SERVICE_FIELDS = ("name", "cron", "timezone", "recover_missed", "statuses", "enabled", "inputs")
FORM_FIELD_OF = {
    "sourceFlowId": "source_flow",
    "agentId": "source_agent",
    "recoverMissedSchedules": "recover_missed",
}  # service error fields named like the API's


def _service_values(data: dict[str, Any]) -> dict[str, Any]:
    """The form's values as the trigger services take them."""
    values = {name: data[name] for name in SERVICE_FIELDS if name in data}
    source, agent = data.get("source_flow"), data.get("source_agent")
    return {
        **values,
        "source_flow_id": source.pk if source is not None else None,
        "source_agent_id": agent.pk if agent is not None else None,
    }


class TriggerAdminForm(forms.ModelForm):
    """Checked by the trigger services (cron, timezone, source flow...), so refusals are form errors."""

    actor: Any = None  # set by TriggerAdmin.get_form
    recover_missed = forms.ChoiceField(
        choices=Trigger._meta.get_field("recover_missed").choices,
        required=False,
        initial="LAST",
        label="Recover missed schedules",
        help_text="Schedule: ticks missed while no worker ran start all (ALL), the latest once (LAST) or none.",
    )

    class Meta:
        model = Trigger
        fields = (
            "flow",
            "name",
            "type",
            "cron",
            "timezone",
            "recover_missed",
            "source_flow",
            "statuses",
            "source_agent",
            "enabled",
            "inputs",
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        existing = not self.instance._state.adding
        flow = self.instance.flow if existing else data.get("flow")
        if self.errors or flow is None or not data.get("type"):
            return data
        try:
            trigger_validate(
                actor=self.actor,
                flow=flow,
                type=data["type"],
                trigger=self.instance if existing else None,
                **_service_values(data),
            )
        except ValidationFailed as exc:
            for detail in exc.details or [{"reason": exc.message}]:
                field = FORM_FIELD_OF.get(detail.get("field"), detail.get("field"))
                self.add_error(field if field in self.fields else None, detail.get("reason") or exc.message)
        except MillraceError as exc:
            self.add_error(None, exc.message)
        return data


@admin.register(Trigger)
class TriggerAdmin(TriggerPagesMixin, NamespaceScopedAdmin):
    """Writes go through `flows.triggers` like the API's; YAML-declared triggers are read-only."""

    form = TriggerAdminForm
    namespace_field = "flow__namespace"
    list_display = ("__str__", "name", "type", "enabled", "cron", "last_fired_at", "next_fire_at")
    list_filter = (NamespaceListFilter, "type", "enabled")
    search_fields = ("name", "flow__name", "cron")
    list_select_related = ("flow__namespace",)
    readonly_fields = ("key", "from_definition", "last_fired_at", "next_fire_at", "created_at", "updated_at")

    def get_fields(self, request: HttpRequest, obj: Trigger | None = None) -> list[str]:
        """The webhook key is a credential: only those who may fire webhooks (executor) see it."""
        fields = super().get_fields(request, obj)
        if obj is None or not self.role_allows(request, obj, Role.EXECUTOR):
            fields = [name for name in fields if name != "key"]
        return fields

    def webhook_url(self, request: HttpRequest, trigger: Trigger) -> str | None:
        """The URL that fires a webhook trigger, for those who may see its key (executor and up)."""
        if trigger.type != Trigger.Type.WEBHOOK or not trigger.key:
            return None
        if not self.role_allows(request, trigger, Role.EXECUTOR):
            return None
        return request.build_absolute_uri(reverse("workflowdev:webhook", kwargs={"key": trigger.key}))

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], add: bool = False, change: bool = False, **kwargs: Any
    ) -> Any:
        obj = kwargs.get("obj")
        if obj is not None:
            context["webhook_url"] = self.webhook_url(request, obj)
            context["can_backfill"] = can_backfill(request, obj)
        return super().render_change_form(request, context, add=add, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Trigger | None = None) -> tuple[str, ...]:
        """A trigger stays on its flow (the services cannot move it)."""
        return ("flow", *self.readonly_fields) if obj is not None else self.readonly_fields

    def has_change_permission(self, request: HttpRequest, obj: Trigger | None = None) -> bool:
        """The flow's YAML owns declared triggers; the next save of the flow would undo an edit."""
        return not (obj is not None and obj.from_definition) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Trigger | None = None) -> bool:
        return not (obj is not None and obj.from_definition) and super().has_delete_permission(request, obj)

    def get_form(self, request: HttpRequest, obj: Trigger | None = None, change: bool = False, **kwargs: Any) -> Any:
        """A flow or agent trigger watches a flow or agent of its own namespace, so only those are offered."""
        form = super().get_form(request, obj, change=change, **kwargs)
        form.actor = request.user
        if obj is not None and "source_flow" in form.base_fields:
            same = Flow.objects.filter(namespace_id=obj.flow.namespace_id).select_related("namespace")
            form.base_fields["source_flow"].queryset = same
        if obj is not None and "source_agent" in form.base_fields:
            agents = Agent.objects.filter(namespace_id=obj.flow.namespace_id).select_related("namespace")
            form.base_fields["source_agent"].queryset = agents
        return form

    def save_model(self, request: HttpRequest, obj: Trigger, form: Any, change: bool) -> None:
        """Through `trigger_create`/`trigger_update`: validated, `next_fire_at` armed, audited."""
        data = form.cleaned_data
        try:
            if change:
                saved = trigger_update(
                    actor=request.user,
                    trigger=Trigger.objects.select_related("flow__namespace").get(pk=obj.pk),
                    type=data["type"],
                    **_service_values(data),
                )
            else:
                saved = trigger_create(
                    actor=request.user, flow=data["flow"], type=data["type"], **_service_values(data)
                )
        except MillraceError as exc:  # a race after the form's check (a key taken, a role lost)
            request._trigger_not_saved = True  # type: ignore[attr-defined]
            self.message_user(request, exc.message, messages.ERROR)
            return
        adopt(obj, saved)

    def log_addition(self, request: HttpRequest, obj: Trigger, message: Any) -> Any:
        return None if getattr(request, "_trigger_not_saved", False) else super().log_addition(request, obj, message)

    def log_change(self, request: HttpRequest, obj: Trigger, message: Any) -> Any:
        return None if getattr(request, "_trigger_not_saved", False) else super().log_change(request, obj, message)

    def response_add(self, request: HttpRequest, obj: Trigger, post_url_continue: str | None = None) -> Any:
        if getattr(request, "_trigger_not_saved", False):
            return HttpResponseRedirect(request.get_full_path())
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request: HttpRequest, obj: Trigger) -> Any:
        if getattr(request, "_trigger_not_saved", False):
            return HttpResponseRedirect(request.get_full_path())
        return super().response_change(request, obj)
