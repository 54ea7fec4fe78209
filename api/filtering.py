"""django-filter for the dialects' list filters, refused in each dialect's own error shape.

A dialect declares a FilterSet next to its views (`api/<dialect>/filters.py`) with the dialect's
parameter names and words; the view sets `filterset_class`. The view's selector has already
scoped the queryset to the caller's namespaces, so a filter only narrows it. A value that does not
parse is a core `BadRequest` (400, rendered by the dialect), not django-filter's `{"field": [...]}`
body nor DRF's 422: the field's error message is the message, its code the `details.reason`.
"""

from collections.abc import Callable, Sequence
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.forms.utils import ErrorDict
from django_filters import CharFilter, Filter, FilterSet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema_field
from rest_framework.request import Request

from core.errors import BadRequest
from executions.engine.labels import label_pairs
from executions.selectors import executions_labelled


def refusal(errors: ErrorDict) -> BadRequest:
    """The first problem of the first invalid parameter, as the 400 a dialect renders."""
    name, problems = next(iter(errors.as_data().items()))
    problem = problems[0]
    message = problem.message % problem.params if problem.params else problem.message
    return BadRequest(str(message), details={"field": name, "reason": problem.code or "invalid"})


class DialectFilterBackend(DjangoFilterBackend):
    """DjangoFilterBackend whose invalid values raise `BadRequest` (the dialect's 400)."""

    def filter_queryset(self, request: Request, queryset: QuerySet, view: Any) -> QuerySet:
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            raise refusal(filterset.errors)
        return filterset.qs


class FilteredListSchema(AutoSchema):
    """Documents a plain APIView's FilterSet on its GET: drf-spectacular only asks the filter
    backends of views it recognises as lists, and the dialects' list envelopes hide that."""

    def get_filter_backends(self) -> list[Any]:
        if self.method == "GET" and getattr(self.view, "filterset_class", None) is not None:
            return list(self.view.filter_backends)
        return super().get_filter_backends()


# For a dialect's APIView that lists: `filterset_class` narrows the queryset its selector scoped,
# and `queryset` (the model's empty one) tells the schema which model the filters read. A comment,
# not a docstring: drf-spectacular would show it as the description of every list operation.
class FilteredListMixin:
    filter_backends: Sequence[type[DjangoFilterBackend]] = (DialectFilterBackend,)
    filterset_class: type[FilterSet]
    schema = FilteredListSchema()
    request: Request

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        for backend in self.filter_backends:
            queryset = backend().filter_queryset(self.request, queryset, self)
        return queryset


class TextFilter(CharFilter):
    """A text parameter taken as given (Django's CharField would strip its spaces)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("strip", False)
        super().__init__(*args, **kwargs)


class WordField(forms.CharField):
    """One word of a dialect's vocabulary, matched after `normalize` (e.g. lower-cased).

    `message` may name `{value}` (as sent) and `{word}` (normalized); its `reason` is the 400's
    `details.reason`. `choices` are (word, description) pairs, also the schema's enum.
    """

    def __init__(
        self,
        *,
        choices: Sequence[tuple[str, str]],
        message: str,
        reason: str,
        normalize: Callable[[str], str] = str.lower,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("strip", False)
        super().__init__(**kwargs)
        self.words = [word for word, _ in choices]
        self.message, self.reason, self.normalize = message, reason, normalize

    def clean(self, value: Any) -> str:
        value = super().clean(value)
        if value in self.empty_values:
            return value
        word = self.normalize(value)
        if word not in self.words:
            raise forms.ValidationError(self.message.format(value=value, word=word), code=self.reason)
        return word


class WordFilter(CharFilter):
    """A `WordField` parameter: `choices`, `message`, `reason` and `normalize` go to the field."""

    field_class = WordField


class QueryListWidget(forms.TextInput):
    """A parameter given comma-separated, repeated, or both (`?a=x,y&a=z`), as a list."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> list[str]:
        raws = data.getlist(name) if hasattr(data, "getlist") else [data.get(name) or ""]
        parts = (part.strip() for raw in raws for part in raw.split(","))
        return [part for part in parts if part]


class QueryListField(forms.Field):
    widget = QueryListWidget

    def to_python(self, value: Any) -> list[str] | None:
        return list(value) if value else None


class ListFilter(Filter):
    """A list parameter (comma-separated or repeated); absent or empty filters nothing."""

    field_class = QueryListField


class LabelsWidget(forms.TextInput):
    """`labels=key:value`, repeated; not split on commas, which a label value may hold."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> list[str]:
        raws = data.getlist(name) if hasattr(data, "getlist") else [data.get(name) or ""]
        return [raw for raw in raws if raw]


class LabelsField(forms.Field):
    widget = LabelsWidget

    def to_python(self, value: Any) -> list[tuple[str, str]] | None:
        try:
            return label_pairs(value or []) or None
        except BadRequest as exc:
            raise forms.ValidationError(exc.message, code=exc.details[0]["reason"]) from None


@extend_schema_field({"type": "string", "description": "key:value; repeat it to require several labels."})
class LabelsFilter(Filter):
    """Executions carrying every `labels=key:value` given (repeatable: all must match)."""

    field_class = LabelsField

    def filter(self, qs: QuerySet, value: list[tuple[str, str]] | None) -> QuerySet:
        return executions_labelled(qs, labels=value) if value else qs
