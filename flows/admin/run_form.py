"""The "Run" form: one field per declared input, typed, with its default and whether it is required.

Converting and checking inputs stays the engine's job (`execution_start` coerces them); the
form only turns text into the declared type so that a typo is reported next to its field.
Inputs left empty are not sent, so the declared default applies. Undeclared inputs, which
flows accept and pass through, can be given as a JSON object. A FILE input is a file upload,
given to `execution_start` as a file (stored with the execution), never as a value.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from core import jsonlimits
from core.errors import MillraceError
from flows.definitions import FlowInput, InputType

EXTRA = "_extra"
PREFIX = "input_"
#: ISO-8601 durations the engine takes (no years or months), for the browser to check first.
DURATION_PATTERN = r"[Pp](\d+[Ww])?(\d+[Dd])?([Tt](\d+[Hh])?(\d+[Mm])?(\d+([.,]\d+)?[Ss])?)?"


class JsonField(forms.CharField):
    """Any JSON value, parsed."""

    widget = forms.Textarea(attrs={"rows": 3, "class": "mr-json"})

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        if text in self.empty_values:
            return None
        try:
            return jsonlimits.loads(text)
        except jsonlimits.JSONTooDeep as exc:
            raise forms.ValidationError(str(exc)) from exc
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).") from exc


class RequiredBooleanField(forms.TypedChoiceField):
    """A boolean with no default must be chosen: a checkbox cannot say "not given"."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            choices=[("", "—"), ("true", "true"), ("false", "false")], coerce=lambda v: v == "true", **kwargs
        )


def _field(declared: FlowInput) -> forms.Field:
    required = declared.required and not declared.has_default
    initial = declared.default if declared.has_default else None
    help_text = str(declared.type) + (f" · default {json.dumps(declared.default)}" if declared.has_default else "")
    help_text += f" — {declared.description}" if declared.description else ""
    options: dict[str, Any] = {"label": declared.id, "required": required, "help_text": help_text}
    kind = declared.type
    if kind == InputType.FILE:  # stored with the execution; its tasks get the file's URI
        return forms.FileField(allow_empty_file=True, widget=forms.FileInput, **options)
    if kind == InputType.INT:
        return forms.IntegerField(initial=initial, **options)
    if kind == InputType.FLOAT:
        return forms.FloatField(initial=initial, **options)
    if kind == InputType.BOOLEAN:
        if required:
            return RequiredBooleanField(**options)
        return forms.BooleanField(initial=bool(initial), **{**options, "required": False})
    if kind in (InputType.JSON, InputType.ARRAY):
        return JsonField(initial=json.dumps(initial) if declared.has_default else None, **options)
    if kind == InputType.SELECT:
        return forms.ChoiceField(choices=[("", "—"), *_choices(declared)], initial=initial, **options)
    if kind == InputType.MULTISELECT:
        return forms.MultipleChoiceField(choices=_choices(declared), initial=initial, **options)
    widget = _TEXT_WIDGETS.get(kind)
    return forms.CharField(initial=initial, strip=False, **({"widget": widget()} if widget else {}), **options)


def _choices(declared: FlowInput) -> list[tuple[str, str]]:
    return [(value, value) for value in declared.values]


#: The browser's own input for each text-like type; the engine checks the value whatever it is.
_TEXT_WIDGETS: dict[InputType, Any] = {
    InputType.DATETIME: lambda: forms.DateTimeInput(attrs={"type": "datetime-local"}),
    InputType.DATE: lambda: forms.DateInput(attrs={"type": "date"}),
    InputType.DURATION: lambda: forms.TextInput(attrs={"pattern": DURATION_PATTERN, "placeholder": "PT30M"}),
    InputType.URI: lambda: forms.URLInput(attrs={"placeholder": "https://"}),
    InputType.EMAIL: forms.EmailInput,
    InputType.SECRET: lambda: forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
}


class RunForm(forms.Form):
    def __init__(self, declared: list[FlowInput], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.declared = declared
        for item in declared:
            self.fields[PREFIX + item.id] = _field(item)
        self.fields[EXTRA] = JsonField(
            label="Other inputs",
            required=False,
            help_text="Undeclared inputs, as a JSON object; they are passed to the flow as given.",
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        extra = data.get(EXTRA)
        if extra is not None and not isinstance(extra, dict):
            self.add_error(EXTRA, 'Give a JSON object, such as {"region": "eu"}.')
        return data

    def inputs(self) -> dict[str, Any]:
        """What the execution is started with: the extra object, then every declared input given."""
        values: dict[str, Any] = dict(self.cleaned_data.get(EXTRA) or {})
        for item in self.declared:
            value = self.cleaned_data.get(PREFIX + item.id)
            if item.type == InputType.FILE:  # uploads go to `execution_start` as files
                continue
            if value is None or (value == "" and item.type == InputType.STRING and not item.required):
                continue
            if value in ("", []) and item.type != InputType.STRING:  # not given: the default applies
                continue
            values[item.id] = value
        return values

    def uploads(self) -> dict[str, UploadedFile]:
        """The files of the FILE inputs given, by input id."""
        files = {
            item.id: self.cleaned_data.get(PREFIX + item.id) for item in self.declared if item.type == InputType.FILE
        }
        return {input_id: upload for input_id, upload in files.items() if upload}

    def add_service_errors(self, exc: MillraceError) -> None:
        """Put the engine's input problems (`inputs.<id>`) on their fields."""
        details = exc.details if isinstance(exc.details, list) else []
        for detail in details:
            field = str(detail.get("field", "")).removeprefix("inputs.")
            name = PREFIX + field if PREFIX + field in self.fields else None
            self.add_error(name, detail.get("reason") or str(exc))
        if not details:
            self.add_error(None, str(exc))
