"""Console pages for flows and their revisions, scoped by namespace role.

The flow page is a YAML editor (`millrace/editor.js`: CodeMirror with highlighting, validation
as you type, completion and the plugin's documentation; see `flows.admin.editor`) with the
flow's graph and its last runs; saving goes through the flow services, tried first inside a
savepoint so that every refusal (YAML problems with their lines, a name taken, a namespace
mismatch) comes back on the form instead of as an error page. Revisions, their diff and
restore, and the run form live in `flows.admin.flow_pages`. The list shows each flow's last run.
"""

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.db import transaction
from django.db.models import Field, OuterRef, QuerySet, Subquery
from django.forms import Field as FormField
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince

from accounts.admin_scoping import VIEW_ONLY, NamespaceListFilter, NamespaceScopedAdmin, ParentScopedInline, adopt
from core.errors import Conflict, MillraceError, ValidationFailed
from executions.models import Execution
from executions.services import flow_delete
from flows.admin.editor import EditorMixin, editor_catalog, starter_groups
from flows.admin.flow_pages import FlowPagesMixin, can_run
from flows.definitions import DefinitionError, compile_definition
from flows.graph import flow_svg
from flows.models import Flow, FlowRevision
from flows.services import flow_create, flow_update
from flows.starters import starter_get

EDITOR_MEDIA = forms.Media(
    js=["millrace/vendor/codemirror.bundle.js", "millrace/editor.js"],
    css={"all": ["millrace/console.css", "millrace/editor.css"]},
)
#: How many of a flow's latest executions its page shows as badges.
RECENT_RUNS = 10
SOURCE_HELP = (
    "YAML in the tasks, nodes or Kestra format. It is checked as you type; Ctrl+Space completes "
    "plugin types and their properties; the panel beside shows the plugin of the task under the cursor."
)


class _DryRun(Exception):
    """Rolls the trial save back."""


class FlowRevisionInline(ParentScopedInline):
    model = FlowRevision
    editable = False
    fields = ("number", "created_at", "created_by")
    readonly_fields = fields
    ordering = ("-number",)
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("created_by")


class TagsField(forms.CharField):
    """Tags typed as `reports, nightly` (a list of strings underneath), not as raw JSON."""

    MAX_TAGS = 50
    MAX_LENGTH = 100

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(str(tag) for tag in value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:
        text = str(super().to_python(value) or "")
        if text.startswith("["):  # a JSON list, as the field took before (and the API takes)
            try:
                parsed = json.loads(text)
            except ValueError:
                raise forms.ValidationError("Tags separated by commas, or a JSON list of strings.") from None
            if not isinstance(parsed, list) or not all(isinstance(tag, str) for tag in parsed):
                raise forms.ValidationError("Tags separated by commas, or a JSON list of strings.")
            tags = [tag.strip() for tag in parsed]
        else:
            tags = [tag.strip() for tag in text.split(",")]
        return list(dict.fromkeys(tag for tag in tags if tag))  # in order, once each

    def validate(self, value: list[str]) -> None:
        if len(value) > self.MAX_TAGS:
            raise forms.ValidationError(f"At most {self.MAX_TAGS} tags; there are {len(value)}.")
        too_long = [tag for tag in value if len(tag) > self.MAX_LENGTH]
        if too_long:
            raise forms.ValidationError(f"A tag has at most {self.MAX_LENGTH} characters: {too_long[0][:40]}…")


class FlowAdminForm(forms.ModelForm):
    """Saves through the flow services; every refusal becomes a form error, YAML problems with their line."""

    actor: Any = None  # set by FlowAdmin.get_form: `${NAME}` may name the editor's own secrets
    tags = TagsField(
        required=False,
        strip=True,
        widget=forms.TextInput(attrs={"size": 60, "placeholder": "reports, nightly"}),
        help_text="Comma-separated.",
    )

    class Meta:
        model = Flow
        fields = ("namespace", "name", "description", "tags", "source")

    @property
    def media(self) -> forms.Media:
        return super().media + EDITOR_MEDIA

    def clean_source(self) -> str:
        """Browsers send a textarea's lines ending in CRLF: keep the YAML's own line ends (LF)."""
        return self.cleaned_data["source"].replace("\r\n", "\n")

    def save_through_services(self) -> Flow:
        data = self.cleaned_data
        if not self.instance._state.adding:
            return flow_update(
                actor=self.actor,
                flow=Flow.objects.select_related("namespace").get(pk=self.instance.pk),
                source=data["source"],
                name=data["name"],
                description=data["description"],
                tags=data["tags"],
            )
        return flow_create(
            actor=self.actor,
            namespace=data["namespace"],
            source=data["source"],
            name=data["name"],
            description=data["description"],
            tags=data["tags"] or None,  # none typed: the definition's own tags
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        try:
            with transaction.atomic():  # a savepoint: the trial writes nothing
                self.save_through_services()
                raise _DryRun
        except _DryRun:
            pass
        except ValidationFailed as exc:
            self._report(exc)
        except Conflict as exc:
            self.add_error("name", str(exc))
        except MillraceError as exc:
            self.add_error(None, str(exc))
        return data

    def _report(self, exc: ValidationFailed) -> None:
        """YAML problems one by one with their lines; a refusal that points at no line, in the service's words."""
        details = exc.details if isinstance(exc.details, list) else []
        located = [detail for detail in details if detail.get("line")]
        if not located:
            field = "name" if details and all(detail.get("path") == "name" for detail in details) else "source"
            self.add_error(field, str(exc))
            return
        for detail in details:
            where = f"line {detail['line']}: " if detail.get("line") else ""
            self.add_error("source", f"{where}{detail.get('path') or '(flow)'}: {detail.get('message')}")
        lines = sorted({int(detail["line"]) for detail in located})
        self.fields["source"].widget.attrs["data-problem-lines"] = ",".join(map(str, lines))


@admin.register(Flow)
class FlowAdmin(EditorMixin, FlowPagesMixin, NamespaceScopedAdmin):
    form = FlowAdminForm
    list_display = ("name", "namespace", "format", "version", "revision", "last_run", "updated_at")
    list_filter = (NamespaceListFilter, "format", "updated_at")
    search_fields = ("name", "description")
    list_select_related = ("namespace",)
    date_hierarchy = "updated_at"
    readonly_fields = ("format", "version", "revision", "created_by", "updated_by", "created_at", "updated_at")
    fields = ("namespace", "name", "description", "tags", "source", *readonly_fields)
    inlines = (FlowRevisionInline,)

    def get_fields(self, request: HttpRequest, obj: Flow | None = None) -> tuple[str, ...]:
        """A new flow has no format, version or history to show yet: they come from its YAML."""
        return self.fields if obj is not None else FlowAdminForm.Meta.fields

    def get_inlines(self, request: HttpRequest, obj: Flow | None) -> tuple[type, ...]:
        return self.inlines if obj is not None else ()  # nor revisions

    def get_readonly_fields(self, request: HttpRequest, obj: Flow | None = None) -> tuple[str, ...]:
        """A flow stays in its namespace; its format and version come from the YAML."""
        return ("namespace", *self.readonly_fields) if obj is not None else self.readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        """Each flow with its latest execution's status and time: one query for the whole list."""
        latest = Execution.objects.filter(flow=OuterRef("pk")).order_by("-created_at")
        return (
            super()
            .get_queryset(request)
            .annotate(
                last_run_status=Subquery(latest.values("status")[:1]),
                last_run_at=Subquery(latest.values("created_at")[:1]),
            )
        )

    @admin.display(description="Last run", ordering="last_run_at")
    def last_run(self, obj: Flow) -> str:
        status, when = getattr(obj, "last_run_status", None), getattr(obj, "last_run_at", None)
        if not status or when is None:
            return mark_safe('<span class="mr-muted">never</span>')  # a constant
        return format_html(
            '<a href="{}?flow__id__exact={}" class="mr-last-run"><span class="mr-badge mr-status-{}">{}</span></a>'
            ' <time datetime="{}" title="{}">{}</time>',
            reverse("admin:executions_execution_changelist"),
            obj.pk,
            status.lower(),
            status,
            when.isoformat(),
            when.isoformat(),
            ago(when),
        )

    def get_form(self, request: HttpRequest, obj: Flow | None = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        form.actor = request.user
        if "source" in form.base_fields:  # a new class per call: these attributes are this page's
            attrs = form.base_fields["source"].widget.attrs
            attrs["data-validate-url"] = reverse("admin:flows_flow_validate")
            attrs["data-reference-url"] = reverse("admin:plugin_reference")
            if obj is not None:
                attrs["data-namespace"] = str(obj.namespace_id)
        return form

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        """`?starter=<format>/<slug>`: the new flow begins as that starter blueprint."""
        initial = super().get_changeform_initial_data(request)
        starter = starter_get(request.GET.get("starter", ""))
        if starter is not None:
            initial.update(source=starter.source, name=starter.name, description=starter.description)
        return initial

    def formfield_for_dbfield(self, db_field: Field, request: HttpRequest, **kwargs: Any) -> FormField | None:
        """`source` is kept exactly as submitted (a stripped copy would also count as a change), in the editor."""
        if db_field.name == "source":
            kwargs["strip"] = False
            kwargs["help_text"] = SOURCE_HELP
            kwargs["widget"] = forms.Textarea(
                attrs={"class": "mr-code", "rows": 26, "spellcheck": "false", "autocapitalize": "off", "wrap": "off"}
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Flow, form: Any, change: bool) -> None:
        """Through the flow services, as the API: a changed source is a new revision, triggers sync."""
        adopt(obj, form.save_through_services())

    def delete_model(self, request: HttpRequest, obj: Flow) -> None:
        """Through `flow_delete`: the confirmation page is the API's `force`, so the flow's running
        executions are cancelled (and audited) instead of running on without their flow."""
        flow_delete(actor=request.user, flow=obj, force=True)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The editor with the saved definition's graph, and the flow's own actions."""
        flow = self.get_object(request, object_id)
        context = {**(extra_context or {}), "editor_catalog": editor_catalog()}
        if flow is not None:
            recent = flow.executions.order_by("-created_at").only("id", "status", "created_at")[:RECENT_RUNS]
            context.update(
                graph_svg=graph_of(flow.source),
                can_run=can_run(request, flow),
                recent_runs=list(recent),
                executions_url=f"{reverse('admin:executions_execution_changelist')}?flow__id__exact={flow.pk}",
            )
        return super().change_view(request, object_id, form_url, extra_context=context)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None) -> Any:
        """The editor, and the starter blueprints a new flow may begin from."""
        chosen = request.GET.get("starter", "")
        context = {**(extra_context or {}), "editor_catalog": editor_catalog(), "starter_groups": starter_groups()}
        context["chosen_starter"] = chosen if starter_get(chosen) else ""
        if chosen and not form_url:  # the form posts to the page without the starter (other parameters kept)
            rest = request.GET.copy()
            rest.pop("starter")
            form_url = f"{request.path}?{rest.urlencode()}" if rest else request.path
        return super().add_view(request, form_url, extra_context=context)


def ago(when: Any) -> str:
    """`3 hours ago`, the largest unit only; `just now` within the minute."""
    text = timesince(when).split(",")[0]
    return "just now" if text.startswith("0\xa0minutes") else f"{text} ago"


def graph_of(source: str) -> str:
    """The SVG of a saved definition (every text in it escaped), or "" if it no longer compiles."""
    try:
        return mark_safe(flow_svg(compile_definition(source)))  # flow_svg escapes every text
    except DefinitionError:
        return ""


@admin.register(FlowRevision)
class FlowRevisionAdmin(NamespaceScopedAdmin):
    """Revisions are history: written when a flow's source changes, deleted with the flow."""

    namespace_field = "flow__namespace"
    edit_actions = VIEW_ONLY
    deleted_with_parent = True
    list_display = ("flow", "number", "in_namespace", "created_at", "created_by")
    list_filter = (NamespaceListFilter, "created_at")
    search_fields = ("flow__name",)
    list_select_related = ("flow__namespace", "created_by")
    date_hierarchy = "created_at"
