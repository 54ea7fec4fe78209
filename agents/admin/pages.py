"""The agent console's own pages: run now, manual messages and clearing logs from an agent's
page, its recent messages and logs, the workflows with their agent graphs, and importing an exported workflow.

Every write is a service call (`agent_run`, `message_create`, `workflow_import`, the same ones
the ActiveWorkflow API and `manage.py import_workflow` use), which checks the role again;
every read goes through the scoped selectors, so another namespace's workflow is a 404.
"""

import json
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.safestring import mark_safe
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from accounts.models import Namespace
from accounts.roles import Role
from accounts.selectors import namespace_ids_for, namespace_list
from agents.admin.graph import agent_svg
from agents.errors import agent_error, last_run
from agents.exchange import export_document, workflow_import
from agents.logic_types import WebhookAgent
from agents.selectors import (
    agent_activity,
    agent_links,
    agent_log_list,
    message_list,
    started_flows,
    workflow_agents,
    workflow_get,
    workflow_links,
    workflows_with_agents,
)
from agents.services import agent_logs_clear, agent_run, agent_type_or_none, message_create
from core import jsonlimits
from core.errors import MillraceError, NotFound
from flows.models import Agent, Flow

RECENT_MESSAGES = 20
RECENT_LOGS = 50


class ImportForm(forms.Form):
    """An export file of `GET /api/v1/workflows/{id}/export`, and where it goes."""

    namespace = forms.ModelChoiceField(queryset=Namespace.objects.none())
    file = forms.FileField(label="Export file (JSON)")
    name = forms.CharField(required=False, max_length=200, help_text="Empty: the name in the file.")

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        limit = settings.MILLRACE_MAX_BODY_BYTES
        if upload.size > limit:
            raise forms.ValidationError(f"The file is {upload.size} bytes; the limit is {limit}.")
        try:
            return jsonlimits.loads(upload.read().decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise forms.ValidationError(f"The file is not JSON: {exc}") from None


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


class AgentPagesMixin:
    """Views of `AgentAdmin` beside the standard ones."""

    def get_urls(self) -> list:
        wrap, prefix = self.admin_site.admin_view, f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("import/", wrap(self.import_view), name=f"{prefix}_import"),
            path("workflows/", wrap(self.workflows_view), name=f"{prefix}_workflows"),
            path("workflows/<str:flow_id>/graph/", wrap(self.graph_view), name=f"{prefix}_graph"),
            path("workflows/<str:flow_id>/export/", wrap(self.export_view), name=f"{prefix}_export"),
            path("<path:object_id>/run/", wrap(require_POST(self.run_view)), name=f"{prefix}_run"),
            path("<path:object_id>/message/", wrap(require_POST(self.message_view)), name=f"{prefix}_message"),
            path("<path:object_id>/clear-logs/", wrap(require_POST(self.clear_logs_view)), name=f"{prefix}_clear_logs"),
            *super().get_urls(),
        ]

    def may_execute(self, request: HttpRequest, agent: Agent) -> bool:
        """Run now and manual messages need the executor role there, as the services check."""
        return self.role_allows(request, agent, Role.EXECUTOR)

    def webhook_url(self, request: HttpRequest, agent: Agent) -> str | None:
        """A WebhookAgent's secret URL, for those who may send it messages anyway (executor and up)."""
        secret = (agent.options or {}).get("secret")
        if not secret or not isinstance(agent_type_or_none(agent.type), WebhookAgent):
            return None
        if not self.may_execute(request, agent):
            return None
        return request.build_absolute_uri(reverse("activeworkflow:agent-webhook", args=[agent.pk, secret]))

    def page_context(self, request: HttpRequest, agent: Agent) -> dict[str, Any]:
        handler = agent_type_or_none(agent.type)
        incoming, outgoing = agent_links(agent)
        recent = list(message_list(agent=agent, limit=RECENT_MESSAGES))
        is_admin = self.role_allows(request, agent, Role.ADMIN)
        logs = agent_log_list(agent=agent, limit=RECENT_LOGS)
        error = agent_error(agent.last_error)
        return {
            "agent": agent,
            "last_error": error,
            "last_run": last_run(agent.last_run_at, logs[0].created_at if logs else None, error.at),
            "may_execute": self.may_execute(request, agent),
            "may_clear_logs": self.role_allows(request, agent, Role.EDITOR),
            "logs": logs,
            "schedulable": handler is not None and handler.schedulable,
            "webhook_url": self.webhook_url(request, agent),
            "recent_messages": [(message, pretty(message.payload)) for message in recent],
            "messages_url": reverse("admin:executions_message_changelist") + f"?agent__id__exact={agent.pk}",
            "incoming": incoming,
            "outgoing": outgoing,
            "workflows": list(agent.flows.filter(namespace_id=agent.namespace_id).order_by("name")),
            "activity": agent_activity(agent=agent) if is_admin else None,
        }

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], add: bool = False, change: bool = False, **kwargs: Any
    ) -> HttpResponse:
        obj = kwargs.get("obj")
        if obj is not None:
            context.update(self.page_context(request, obj))
        return super().render_change_form(request, context, add=add, change=change, **kwargs)

    def _visible(self, request: HttpRequest, object_id: str) -> Agent:
        agent = self.get_object(request, object_id)
        if agent is None or not self.has_view_permission(request, agent):
            raise Http404("Agent not found.")
        return agent

    def _back(self, agent: Agent) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:flows_agent_change", args=[agent.pk]))

    def run_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        agent = self._visible(request, object_id)
        try:
            agent_run(actor=request.user, agent=agent)
        except MillraceError as exc:
            self.message_user(request, f"Run now: {exc.message}", messages.ERROR)
        else:
            self.message_user(request, f"Queued a run of {agent.name}.", messages.SUCCESS)
        return self._back(agent)

    def message_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        agent = self._visible(request, object_id)
        try:
            payload = jsonlimits.loads(request.POST.get("payload") or "{}")
            message = message_create(actor=request.user, agent=agent, payload=payload)
        except ValueError as exc:
            self.message_user(request, f"The payload is not JSON: {exc}", messages.ERROR)
        except MillraceError as exc:
            self.message_user(request, f"Send a message: {exc.message}", messages.ERROR)
        else:
            self.message_user(request, f"Sent message {message.uuid}.", messages.SUCCESS)
        return self._back(agent)

    def clear_logs_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        agent = self._visible(request, object_id)
        try:
            deleted = agent_logs_clear(actor=request.user, agent=agent)
        except MillraceError as exc:
            self.message_user(request, f"Clear logs: {exc.message}", messages.ERROR)
        else:
            self.message_user(request, f"Cleared {deleted} log lines of {agent.name}.", messages.SUCCESS)
        return self._back(agent)

    def _page(self, request: HttpRequest, template: str, title: str, **context: Any) -> TemplateResponse:
        context = {**self.admin_site.each_context(request), "opts": self.opts, "title": title, **context}
        return TemplateResponse(request, f"admin/flows/agent/{template}", context)

    def workflows_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise Http404("Not found.")
        return self._page(request, "workflows.html", "Workflows", workflows=workflows_with_agents(account=request.user))

    def _workflow(self, request: HttpRequest, flow_id: str) -> Flow:
        try:
            return workflow_get(account=request.user, workflow_id=flow_id)
        except NotFound:
            raise Http404("Workflow not found.") from None

    def export_view(self, request: HttpRequest, flow_id: str) -> HttpResponse:
        """The same file as `GET /api/v1/workflows/{id}/export`, for the console's session."""
        flow = self._workflow(request, flow_id)
        response = HttpResponse(json.dumps(export_document(flow), indent=2), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="{slugify(flow.name) or "workflow"}.json"'
        return response

    def graph_view(self, request: HttpRequest, flow_id: str) -> HttpResponse:
        flow = self._workflow(request, flow_id)
        agents = list(workflow_agents(flow))
        started = {
            agent_id: (target.name, reverse("admin:flows_flow_change", args=[target.pk]))
            for agent_id, target in started_flows(agents).items()
        }
        svg = agent_svg(
            agents, workflow_links(flow), lambda agent: reverse("admin:flows_agent_change", args=[agent.pk]), started
        )
        return self._page(
            request,
            "graph.html",
            f"Agents of {flow.name}",
            flow=flow,
            agents=agents,
            svg=mark_safe(svg),  # agent_svg escapes every text it draws
            export_url=reverse("admin:flows_agent_export", args=[flow.pk]),
        )

    def import_view(self, request: HttpRequest) -> HttpResponse:
        ids = namespace_ids_for(request.user, Role.EDITOR)
        if ids is not None and not ids:
            raise Http404("Not found.")
        form = ImportForm(request.POST or None, request.FILES or None)
        form.fields["namespace"].queryset = namespace_list(account=request.user, minimum=Role.EDITOR)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                flow, agents = workflow_import(
                    actor=request.user, namespace=data["namespace"], document=data["file"], name=data["name"] or None
                )
            except MillraceError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(
                    request,
                    f"Imported {flow.name} with {len(agents)} agent(s) into {flow.namespace}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:flows_agent_graph", args=[flow.pk]))
        return self._page(request, "import.html", "Import a workflow", form=form)
