"""workflowdev's list filters: camelCase parameters, core status words, lists comma-separated
or repeated (`?status=FAILED,SUCCESS&namespace=a&namespace=b`).

Each FilterSet narrows a queryset the view's selector already scoped to the caller, so naming a
namespace or flow the caller cannot read finds nothing (an id that is not a UUID: 404, as the
lookups answer). A bad status is a 400 `invalid_request` (`api.filtering`).
"""

from typing import Any
from uuid import UUID

from django import forms
from django.db.models import Q, QuerySet
from django_filters import FilterSet
from drf_spectacular.utils import extend_schema_field

from accounts.models import AuditEntry
from api.filtering import LabelsFilter, ListFilter, QueryListField, TextFilter, WordFilter
from core.ids import parse_uuid
from executions.models import Approval, Execution, ExecutionStatus
from flows.models import Flow, Trigger
from vault.models import Secret

NAMESPACES = "One or more namespaces, comma-separated."


class StatusesField(QueryListField):
    """Execution statuses in any case; every unknown one is named in the 400."""

    def to_python(self, value: Any) -> list[str] | None:
        statuses = [status.upper() for status in super().to_python(value) or []]
        unknown = sorted(set(statuses) - set(ExecutionStatus.values))
        if unknown:
            raise forms.ValidationError(
                f"Unknown status {', '.join(unknown)}; use {', '.join(ExecutionStatus.values)}.",
                code="unknown status",
            )
        return statuses or None


class StatusesFilter(ListFilter):
    field_class = StatusesField


def _uuid_or_404(what: str) -> Any:
    """A filter method matching its field to a UUID; anything else is 404, as a lookup of that id is."""

    def method(queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(**{name: parse_uuid(value, what=what)})

    return method


class ExecutionFilterSet(FilterSet):
    namespace = ListFilter(field_name="namespace__name", lookup_expr="in", help_text=NAMESPACES)
    flowId = TextFilter(field_name="flow_id", method=_uuid_or_404("Flow"))
    # documented as text: a comma-separated list is no single word of an enum
    status = extend_schema_field({"type": "string", "description": "One or more statuses, comma-separated."})(
        StatusesFilter(field_name="status", lookup_expr="in")
    )
    labels = LabelsFilter()

    class Meta:
        model = Execution
        fields: list[str] = []


class ApprovalFilterSet(FilterSet):
    executionId = TextFilter(field_name="execution_id", method=_uuid_or_404("Execution"))
    status = WordFilter(
        field_name="status",
        choices=Approval.Status.choices,
        message=f"Unknown approval status '{{word}}'; use {', '.join(Approval.Status.values)}.",
        reason="unknown status",
    )

    class Meta:
        model = Approval
        fields: list[str] = []


class FlowFilterSet(FilterSet):
    namespace = TextFilter(field_name="namespace__name")
    q = TextFilter(field_name="name", lookup_expr="icontains", help_text="Name contains")

    class Meta:
        model = Flow
        fields: list[str] = []


class TriggerFilterSet(FilterSet):
    flowId = TextFilter(field_name="flow_id", method=_uuid_or_404("Flow"))
    type = extend_schema_field({"type": "string", "enum": Trigger.Type.values})(TextFilter(field_name="type"))

    class Meta:
        model = Trigger
        fields: list[str] = []


class CredentialFilterSet(FilterSet):
    namespace = ListFilter(field_name="namespace__name", lookup_expr="in", help_text=NAMESPACES)

    class Meta:
        model = Secret
        fields: list[str] = []


class AuditFilterSet(FilterSet):
    namespace = TextFilter(field_name="namespace")
    actor = TextFilter(method="filter_actor", help_text="The actor's name or id")
    action = TextFilter(field_name="action")

    class Meta:
        model = AuditEntry
        fields: list[str] = []

    def filter_actor(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        try:
            ids = [UUID(value)]
        except ValueError:
            ids = []
        return queryset.filter(Q(actor_name=value) | Q(actor_id__in=ids))
