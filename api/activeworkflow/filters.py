"""ActiveWorkflow's list filter: an agent's messages `after` a time.

The messages are already the agent's own (the view's selector); `limit` is a count, not a
filter, and stays in the view. A bad `after` is a 400 `{"error": ...}` (`api.filtering`).
"""

from datetime import UTC, datetime
from typing import Any

from django import forms
from django.utils.dateparse import parse_datetime
from django_filters import FilterSet, IsoDateTimeFilter

from executions.models import Message


class AfterField(forms.Field):
    """ISO 8601; a `+` of the offset that arrived as a space is read back, a naive time is UTC."""

    def to_python(self, value: Any) -> datetime | None:
        if value in self.empty_values:
            return None
        try:
            parsed = parse_datetime(value.replace(" ", "+"))  # a `+` in a query string arrives as a space
        except ValueError:
            parsed = None
        if parsed is None:
            raise forms.ValidationError("'after' must be an ISO 8601 datetime.", code="not a datetime")
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class AfterFilter(IsoDateTimeFilter):
    field_class = AfterField


class MessageFilterSet(FilterSet):
    after = AfterFilter(field_name="created_at", lookup_expr="gt", help_text="Only messages created after this time.")

    class Meta:
        model = Message
        fields: list[str] = []
