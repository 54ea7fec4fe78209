"""The flow admin's own pages: revision history, a side-by-side diff, restore, "Run" and "Convert".

Each page finds the flow through the admin's scoped queryset (a flow outside the caller's
namespaces is answered like any missing object) and writes only through the services:
`flow_restore` (editor role) and `execution_start` (executor role).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.views.decorators.http import require_POST

from accounts.roles import Role, at_least
from accounts.selectors import role_in
from core.errors import MillraceError, PayloadTooLarge, ValidationFailed
from executions.services import execution_start
from flows.admin.run_form import RunForm
from flows.definitions import DefinitionError, compile_definition
from flows.definitions.convert import FORMATS, ConversionError, convert_source
from flows.models import Flow
from flows.selectors import flow_revisions
from flows.services import flow_restore


@dataclass(frozen=True)
class DiffRow:
    """One line pair of a side-by-side diff; a side is empty where the other added a line."""

    kind: str  # equal, changed, removed, added
    old_number: int | None
    old_text: str
    new_number: int | None
    new_text: str


def side_by_side(old: str, new: str) -> list[DiffRow]:
    """Pair the lines of two sources the way a side-by-side view shows them."""
    a, b = old.splitlines(), new.splitlines()
    rows: list[DiffRow] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            pairs = zip(range(i1, i2), range(j1, j2), strict=True)
            rows += [DiffRow("equal", i + 1, a[i], j + 1, b[j]) for i, j in pairs]
            continue
        for offset in range(max(i2 - i1, j2 - j1)):
            i, j = i1 + offset, j1 + offset
            left, right = i < i2, j < j2
            kind = "changed" if left and right else ("removed" if left else "added")
            old_line = (i + 1, a[i]) if left else (None, "")
            new_line = (j + 1, b[j]) if right else (None, "")
            rows.append(DiffRow(kind, *old_line, *new_line))
    return rows


def can_run(request: HttpRequest, flow: Flow) -> bool:
    """Executor role in the flow's namespace, the rule `execution_start` applies."""
    return at_least(role_in(request.user, flow.namespace_id), Role.EXECUTOR)


class FlowPagesMixin:
    """URLs and views of the flow pages; mixed into `FlowAdmin`."""

    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/revisions/", wrap(self.revisions_view), name=f"{prefix}_revisions"),
            path("<path:object_id>/revisions/compare/", wrap(self.compare_view), name=f"{prefix}_compare"),
            path(
                "<path:object_id>/revisions/<int:number>/restore/",
                wrap(require_POST(self.restore_view)),
                name=f"{prefix}_restore",
            ),
            path("<path:object_id>/run/", wrap(self.run_view), name=f"{prefix}_run"),
            path("<path:object_id>/convert/", wrap(self.convert_view), name=f"{prefix}_convert"),
            *super().get_urls(),
        ]

    def _flow(self, request: HttpRequest, object_id: str) -> Flow | None:
        flow = self.get_object(request, unquote(object_id))
        if flow is not None and not self.has_view_permission(request, flow):
            raise PermissionDenied
        return flow

    def _missing(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)

    def _context(self, request: HttpRequest, flow: Flow, title: str, **extra: Any) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": flow,
            "flow": flow,
            "title": title,
            "has_view_permission": True,
            "media": self.media,
            **extra,
        }

    def revisions_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        flow = self._flow(request, object_id)
        if flow is None:
            return self._missing(request, object_id)
        revisions = list(flow_revisions(flow=flow))
        context = self._context(
            request,
            flow,
            f"Revisions of {flow.name}",
            revisions=revisions,
            can_restore=self.has_change_permission(request, flow),
        )
        return TemplateResponse(request, "admin/flows/flow/revisions.html", context)

    def compare_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """`?a=<n>&b=<m>`: revision a on the left, b on the right (b defaults to the current one)."""
        flow = self._flow(request, object_id)
        if flow is None:
            return self._missing(request, object_id)
        by_number = {revision.number: revision for revision in flow_revisions(flow=flow)}
        try:
            right = int(request.GET.get("b") or flow.revision)
            left = int(request.GET.get("a") or max(right - 1, 1))
        except ValueError:
            left = right = -1
        if left not in by_number or right not in by_number:
            messages.error(request, "No such revision of this flow.")
            return HttpResponseRedirect(reverse("admin:flows_flow_revisions", args=[flow.pk]))
        old, new = by_number[left], by_number[right]
        rows = side_by_side(old.source, new.source)
        context = self._context(
            request,
            flow,
            f"{flow.name}: revision {left} → {right}",
            old=old,
            new=new,
            rows=rows,
            identical=all(row.kind == "equal" for row in rows),
            numbers=sorted(by_number, reverse=True),
            can_restore=self.has_change_permission(request, flow) and left != flow.revision,
        )
        return TemplateResponse(request, "admin/flows/flow/compare.html", context)

    def restore_view(self, request: HttpRequest, object_id: str, number: int) -> HttpResponse:
        flow = self._flow(request, object_id)
        if flow is None:
            return self._missing(request, object_id)
        if not self.has_change_permission(request, flow):
            raise PermissionDenied
        try:
            restored = flow_restore(actor=request.user, flow=flow, revision=number)
        except MillraceError as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(reverse("admin:flows_flow_revisions", args=[flow.pk]))
        messages.success(request, f"Revision {number} restored as revision {restored.revision}.")
        return HttpResponseRedirect(reverse("admin:flows_flow_change", args=[flow.pk]))

    def run_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """A form built from the flow's declared inputs; a valid one starts an execution."""
        flow = self._flow(request, object_id)
        if flow is None:
            return self._missing(request, object_id)
        if not can_run(request, flow):
            raise PermissionDenied
        try:
            declared = compile_definition(flow.source).inputs
        except DefinitionError as exc:
            messages.error(request, f"The saved definition does not compile: {exc}")
            return HttpResponseRedirect(reverse("admin:flows_flow_change", args=[flow.pk]))
        form = RunForm(declared, request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                execution = execution_start(
                    actor=request.user, flow=flow, inputs=form.inputs(), files=form.uploads(), origin="console"
                )
            except (ValidationFailed, PayloadTooLarge) as exc:
                form.add_service_errors(exc)
            except MillraceError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Started an execution of {flow.name}.")
                return HttpResponseRedirect(reverse("admin:executions_execution_change", args=[execution.pk]))
        context = self._context(request, flow, f"Run {flow.name}", form=form, declared=declared)
        return TemplateResponse(request, "admin/flows/flow/run.html", context)

    def convert_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The saved definition in another format (`?format=nodes|tasks|kestra`), shown, or with
        `download=1` downloaded; what the format cannot express is listed instead. Viewers may."""
        flow = self._flow(request, object_id)
        if flow is None:
            return self._missing(request, object_id)
        target = request.GET.get("format") or next(kind for kind in FORMATS if kind != flow.format)
        text, reasons, status = "", [], 200
        if target not in FORMATS:
            reasons, status = [f"Unknown format; choose one of {', '.join(FORMATS)}."], 400
        else:
            try:
                text = convert_source(flow.source, target, namespace=flow.namespace.name)
            except ConversionError as exc:
                reasons = exc.reasons
            except DefinitionError as exc:
                reasons = [str(problem) for problem in exc.problems]
        if text and request.GET.get("download"):
            response = HttpResponse(text, content_type="application/x-yaml; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{flow.namespace.name}.{flow.name}.{target}.yaml"'
            return response
        formats = [(kind, kind == target) for kind in FORMATS]
        title = f"Convert {flow.name}"
        context = self._context(request, flow, title, target=target, formats=formats, text=text, reasons=reasons)
        return TemplateResponse(request, "admin/flows/flow/convert.html", context, status=status)
