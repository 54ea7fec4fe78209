"""Execution labels: the flow's `labels:` plus those given at start, checked once, here.

A label is a `key: value` pair of strings of at most `MAX_LABEL_LENGTH` characters. The map is
kept on the execution (`Execution.labels`, read with the row) and, for the list filters, as
`ExecutionLabel` rows written with the execution: an execution without labels writes nothing
more than before. An `execution.labels` step merges more into a running execution
(`labels_merge`), under the same limits.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction

from core.errors import BadRequest
from executions.engine.nulchars import without_nul
from executions.models import Execution, ExecutionLabel

MAX_LABEL_LENGTH = 100
#: Labels one execution may carry: each is an indexed row.
MAX_LABELS = 50


def label_problem(key: Any, value: Any) -> str | None:
    """Why `key: value` is not a label, or None when it is one."""
    if not isinstance(key, str) or not key:
        return "a label key must be a non-empty string"
    if len(key) > MAX_LABEL_LENGTH:
        return f"a label key may have at most {MAX_LABEL_LENGTH} characters"
    if not isinstance(value, str):
        return "a label value must be a string"
    if len(value) > MAX_LABEL_LENGTH:
        return f"a label value may have at most {MAX_LABEL_LENGTH} characters"
    return None


def labels_check(given: Any, *, field: str = "labels") -> dict[str, str]:
    """The labels given at start as a map; 400 naming the first bad one (`field.<key>`)."""
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        raise BadRequest(
            "Labels must be an object of string keys and string values.",
            details=[{"field": field, "reason": "not an object"}],
        )
    for key, value in given.items():
        problem = label_problem(key, value)
        if problem is not None:
            raise BadRequest(
                f"Invalid label '{str(key)[:MAX_LABEL_LENGTH]}': {problem}.",
                details=[{"field": f"{field}.{str(key)[:MAX_LABEL_LENGTH]}", "reason": problem}],
            )
    if len(given) > MAX_LABELS:
        raise BadRequest(
            f"An execution may carry at most {MAX_LABELS} labels.", details=[{"field": field, "reason": "too many"}]
        )
    return dict(given)


def label_pairs(raws: Iterable[str], *, field: str = "labels") -> list[tuple[str, str]]:
    """`key:value` texts (a query's repeated `labels=`) as pairs; 400 on a malformed one."""
    pairs = []
    for raw in raws:
        key, colon, value = raw.partition(":")
        if not colon or not key:
            raise BadRequest(
                f"Invalid label '{raw[:MAX_LABEL_LENGTH]}': write labels as key:value.",
                details=[{"field": field, "reason": "not key:value"}],
            )
        problem = label_problem(key, value)
        if problem is not None:
            raise BadRequest(
                f"Invalid label '{key[:MAX_LABEL_LENGTH]}': {problem}.", details=[{"field": field, "reason": problem}]
            )
        pairs.append((key, value))
    return pairs


def label_rows(execution: Execution) -> list[ExecutionLabel]:
    """The index rows of an execution's labels (none without labels)."""
    return [ExecutionLabel(execution=execution, key=key, value=value) for key, value in execution.labels.items()]


class LabelError(ValueError):
    """Labels an `execution.labels` step cannot set: its step fails with this message."""


def _label_text(value: Any) -> Any:
    """A number or boolean reads as its text, as Kestra writes it (`true`, `3`); anything else
    is left for `label_problem` to refuse."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def labels_given(value: Any) -> dict[str, str]:
    """A step's rendered `labels` (a map, a list of `{key, value}`, or the JSON text of one, as
    Kestra reads a text) as a checked map."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):  # not JSON: refused below as the text it is
            value = json.loads(value)
    if isinstance(value, list):
        if not all(isinstance(item, Mapping) and set(item) == {"key", "value"} for item in value):
            raise LabelError("labels given as a list must hold {key, value} mappings only")
        value = {item["key"]: item["value"] for item in value}
    if not isinstance(value, Mapping):
        raise LabelError(f"labels must be a map of key: value or a list of {{key, value}}, not {type(value).__name__}")
    labels = {key: _label_text(item) for key, item in value.items()}
    for key, item in labels.items():
        problem = label_problem(key, item)
        if problem is not None:
            raise LabelError(f"invalid label '{str(key)[:MAX_LABEL_LENGTH]}': {problem}")
    return labels


def labels_merge(execution: Execution, given: Any) -> dict[str, str]:
    """Add `given` to a running execution's labels (a shared key takes the new value) and write
    the map and its index rows; returns the labels set. Called under the execution's lock (the
    walk's), so the map read here is the latest; LabelError when they cannot be set."""
    labels = without_nul(labels_given(given))
    with transaction.atomic():
        current = Execution.objects.filter(pk=execution.pk).values_list("labels", flat=True).first() or {}
        merged = {**current, **labels}
        if len(merged) > MAX_LABELS:
            raise LabelError(f"an execution may carry at most {MAX_LABELS} labels; this one would have {len(merged)}")
        Execution.objects.filter(pk=execution.pk).update(labels=merged)
        execution.labels = merged
        ExecutionLabel.objects.filter(execution_id=execution.pk).delete()
        ExecutionLabel.objects.bulk_create(label_rows(execution))
    return labels
