"""What the flow editor needs beyond the form: the plugin catalog, live validation and starters.

`millrace/editor.js` (CodeMirror 6, vendored) reads the catalog from a `json_script` on the page
to complete plugin types and their properties and to show the documentation of the task under
the cursor; it posts the YAML to `validate/` as the user types. That view runs `flow_validate`,
the check behind the API's `POST /api/v1/flows/validate`, with the console's session and CSRF
token, and against a namespace only when the caller can read it. New flows may start from one
of the starter blueprints in `flows/starters/`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, path
from django.views.decorators.http import require_POST

from accounts.models import Namespace
from accounts.selectors import namespace_list
from connectors.registry import Plugin, all_plugins
from console.plugin_reference import plugin_entry, render_inline
from flows.definitions.kestra import TYPES as KESTRA_TYPES
from flows.services import flow_validate
from flows.starters import FORMATS, Starter, all_starters


def _properties(plugin: type[Plugin]) -> list[dict[str, Any]]:
    entry = plugin_entry(plugin)
    raw = plugin.input_schema.get("properties", {})
    return [
        {
            "name": row.name,
            "type": row.type,
            "required": row.required,
            "description": str(raw[row.name].get("description", "")) if isinstance(raw[row.name], dict) else "",
        }
        for row in entry.inputs
    ]


@cache
def editor_catalog() -> dict[str, Any]:
    """Plugins by id (documentation as safe HTML) and Kestra type names with the plugin they run."""
    plugins: dict[str, Any] = {}
    kestra: dict[str, Any] = {}
    for plugin in all_plugins():
        entry = plugin_entry(plugin)
        plugins[plugin.id] = {
            "name": entry.name,
            "category": entry.category,
            "description": entry.description,
            "summary": str(render_inline(entry.description)),  # the description as safe HTML
            "doc": str(entry.documentation),
            "example": entry.example,
            "anchor": entry.anchor,
            "properties": _properties(plugin),
        }
        for alias in entry.aliases:
            if alias.startswith("io.kestra."):
                kestra[alias] = {"plugin": plugin.id, "properties": [row["name"] for row in _properties(plugin)]}
    for name, kind in KESTRA_TYPES.items():  # Kestra's own property names, translated when the flow compiles
        kestra[name] = {"plugin": kind.target, "properties": sorted(kind.props)}
    return {"plugins": plugins, "kestra": dict(sorted(kestra.items()))}


def starter_groups() -> list[tuple[str, list[Starter]]]:
    """The starters by format, as the add page's chooser lists them."""
    return [(label, [s for s in all_starters() if s.format == kind]) for kind, label in FORMATS.items()]


def readable_namespace(request: HttpRequest, value: str) -> Namespace | None:
    """The namespace of that id if the caller can read it; None for any other text."""
    if not value:
        return None
    try:
        return namespace_list(account=request.user).filter(pk=value).first()
    except (ValidationError, ValueError):  # not an id at all
        return None


class EditorMixin:
    """The editor's validation URL; mixed into `FlowAdmin`."""

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_validate"
        view = self.admin_site.admin_view(require_POST(self.validate_view))
        return [path("validate/", view, name=name), *super().get_urls()]

    def validate_view(self, request: HttpRequest) -> HttpResponse:
        """POST `source` (and optionally `namespace`, an id): `{"valid", "errors": [{path, line, message}]}`."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        source = request.POST.get("source")
        if source is None:
            return JsonResponse({"detail": "Send the YAML as the form field `source`."}, status=400)
        namespace = readable_namespace(request, request.POST.get("namespace", ""))
        problems = flow_validate(source=source.replace("\r\n", "\n"), namespace=namespace, owner=request.user)
        errors = [problem.as_dict() for problem in problems]
        return JsonResponse({"valid": not errors, "errors": errors})
