"""FlowRunner's list filters: its parameter names and status words (DIALECTS.md, status words).

Each FilterSet narrows a queryset the view's selector already scoped to the caller; a bad value
is a 400 `invalid_request` with the messages the dialect has always given (`api.filtering`).
"""

from typing import Any

from django import forms
from django.db.models import QuerySet
from django_filters import FilterSet, UUIDFilter

from accounts.models import Account
from api.filtering import LabelsFilter, TextFilter, WordFilter
from api.flowrunner.events import STATUS_FILTER
from executions.models import Execution
from flows import selectors as flow_selectors
from flows.models import Flow


class FlowIdField(forms.UUIDField):
    def to_python(self, value: Any) -> Any:
        try:
            return super().to_python(value)
        except forms.ValidationError:
            raise forms.ValidationError("flow_id must be a UUID.", code="not a UUID") from None


class FlowIdFilter(UUIDFilter):
    field_class = FlowIdField


class ExecutionFilterSet(FilterSet):
    flow_id = FlowIdFilter(field_name="flow_id", strip=False, help_text="Only executions of this flow")
    status = WordFilter(
        method="filter_status",
        choices=[(word, "core " + ", ".join(statuses)) for word, statuses in STATUS_FILTER.items()],
        message=f"Unknown status '{{value}}'; use one of {', '.join(STATUS_FILTER)}.",
        reason="unknown status",
        help_text="`running` includes queued and waiting",
    )
    labels = LabelsFilter()

    class Meta:
        model = Execution
        fields: list[str] = []

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(status__in=STATUS_FILTER[value])


class FlowFilterSet(FilterSet):
    tag = TextFilter(method="filter_tag", help_text="Only flows carrying this tag")

    class Meta:
        model = Flow
        fields: list[str] = []

    def filter_tag(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return flow_selectors.flows_tagged(queryset, tag=value)


class AccountFilterSet(FilterSet):
    role = TextFilter(field_name="role", help_text="Only accounts of this role")

    class Meta:
        model = Account
        fields: list[str] = []
