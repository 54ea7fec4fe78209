"""The trigger admin's own page: backfill a schedule trigger over a past range.

The trigger is found through the admin's scoped queryset (one outside the caller's
namespaces is answered like any missing object); the executions start through
`executions.triggers.trigger_backfill` (executor role), as the API's backfill does.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from accounts.roles import Role, at_least
from accounts.selectors import role_in
from core.errors import MillraceError
from executions.triggers import trigger_backfill
from flows.models import Trigger


class BackfillForm(forms.Form):
    start = forms.DateTimeField(help_text="First moment of the range (included), e.g. 2026-03-01 00:00 (UTC).")
    end = forms.DateTimeField(help_text="End of the range (excluded).")
    inputs = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Optional JSON object, merged over the trigger's own inputs.",
    )

    def clean_inputs(self) -> dict[str, Any] | None:
        text = (self.cleaned_data.get("inputs") or "").strip()
        if not text:
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not JSON: {exc.msg}.") from exc
        if not isinstance(value, dict):
            raise forms.ValidationError('A JSON object, such as {"region": "eu"}.')
        return value


def can_backfill(request: HttpRequest, trigger: Trigger) -> bool:
    """A schedule trigger, and the executor role in its namespace (the rule of any start)."""
    return trigger.type == Trigger.Type.SCHEDULE and at_least(
        role_in(request.user, trigger.flow.namespace_id), Role.EXECUTOR
    )


class TriggerPagesMixin:
    """URLs and views of the trigger pages; mixed into `TriggerAdmin`."""

    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/backfill/", wrap(self.backfill_view), name=f"{prefix}_backfill"),
            *super().get_urls(),
        ]

    def backfill_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """A start, an end and optional inputs; a valid range starts one execution per tick."""
        trigger = self.get_object(request, unquote(object_id))
        if trigger is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_permission(request, trigger) or not can_backfill(request, trigger):
            raise PermissionDenied
        form = BackfillForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                started = trigger_backfill(actor=request.user, trigger=trigger, **form.cleaned_data)
            except MillraceError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Started {len(started)} executions of {trigger.flow.name}.")
                return HttpResponseRedirect(reverse("admin:flows_trigger_change", args=[trigger.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": trigger,
            "trigger": trigger,
            "title": f"Backfill {trigger}",
            "has_view_permission": True,
            "form": form,
        }
        return TemplateResponse(request, "admin/flows/trigger/backfill.html", context)
