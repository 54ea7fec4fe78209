"""Converting a value to a declared input's type: for the engine at start and for the defaults
a definition declares (one rule for both).

`convert` returns the value in its stored, JSON-able form (dates and durations stay ISO-8601
text, normalised) or raises `ValueError` saying what was expected.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from core import jsonlimits
from core.filerefs import PREFIX, FileRefError, clean_path, is_uri
from flows.definitions.durations import parse_duration
from flows.definitions.ir import FlowInput, InputType
from flows.definitions.problems import key_text

#: Levels of lists and objects a JSON input given as text may nest (the engine's input limit, minus
#: the inputs object itself).
MAX_JSON_DEPTH = 63
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")
#: Types an ARRAY's items may have.
ITEM_TYPES = frozenset(
    {
        InputType.STRING,
        InputType.INT,
        InputType.FLOAT,
        InputType.BOOLEAN,
        InputType.DATETIME,
        InputType.DATE,
        InputType.DURATION,
        InputType.URI,
        InputType.EMAIL,
        InputType.JSON,
    }
)


def _string(value: Any) -> str:
    if isinstance(value, dict | list):
        raise ValueError("expected a string")
    return value if isinstance(value, str) else str(value)


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value.strip())
    raise ValueError("expected an integer")


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("expected a number")
    try:
        number = float(value)
    except ValueError:
        raise ValueError("expected a number") from None
    if not math.isfinite(number):  # JSON (and the JSON columns inputs go to) has no NaN or Infinity
        raise ValueError("expected a finite number")
    return number


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0", "yes", "no"}:
        return value.strip().lower() in {"true", "1", "yes"}
    raise ValueError("expected a boolean")


def _datetime(value: Any) -> str:
    """ISO-8601 date and time; without an offset it is UTC. Stored as ISO text with its offset."""
    if not isinstance(value, str):
        raise ValueError("expected an ISO-8601 date and time such as 2026-01-31T09:30:00Z")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError("expected an ISO-8601 date and time such as 2026-01-31T09:30:00Z") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def _date(value: Any) -> str:
    if not isinstance(value, str | date) or isinstance(value, datetime):
        raise ValueError("expected an ISO-8601 date such as 2026-01-31")
    if isinstance(value, date):  # YAML reads an unquoted 2026-01-31 as a date
        return value.isoformat()
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise ValueError("expected an ISO-8601 date such as 2026-01-31") from None


def _duration(value: Any) -> str:
    text = value.strip().upper() if isinstance(value, str) else ""
    if not text.startswith("P"):
        raise ValueError("expected an ISO-8601 duration such as PT30M")
    try:
        parse_duration(text)
    except ValueError as exc:
        raise ValueError(f"expected an ISO-8601 duration such as PT30M: {exc}") from None
    return text


def _uri(value: Any) -> str:
    if not isinstance(value, str) or any(char.isspace() for char in value):
        raise ValueError("expected a URI such as https://example.com/path")
    parts = urlsplit(value)
    if not _SCHEME.match(parts.scheme) or not (parts.netloc or parts.path):
        raise ValueError("expected a URI such as https://example.com/path")
    if parts.scheme.lower() in {"http", "https"} and not parts.hostname:
        raise ValueError("expected a URI with a host, such as https://example.com/path")
    return value


def _email(value: Any) -> str:
    try:
        validate_email(value)
    except ValidationError:
        raise ValueError("expected an email address") from None
    return value


def _file(value: Any) -> str:
    """A stored file's `millrace:///` URI, well formed. Where it may point is decided where values
    come in: a caller's start takes only the files it uploads (`executions.services`), and a
    task reads files of its own namespace only (`core.filerefs.key_of`)."""
    if not is_uri(value):
        raise ValueError("expected an uploaded file (send it as a multipart/form-data file part)")
    try:
        clean_path(value[len(PREFIX) :])
    except FileRefError as exc:
        raise ValueError(f"expected a file URI: {exc}") from None
    return value


def _choice(declared: FlowInput, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected one of {', '.join(declared.values)}")
    text = key_text(value)
    if text not in declared.values:
        raise ValueError(f"'{text}' is not one of {', '.join(declared.values)}")
    return text


def _list(value: Any) -> list[Any]:
    if isinstance(value, str):
        value = jsonlimits.loads(value, max_depth=MAX_JSON_DEPTH)
    if not isinstance(value, list):
        raise ValueError("expected a list")
    return value


def _items(declared: FlowInput, value: Any) -> list[Any]:
    items = _list(value)
    if declared.item_type is None:
        return items
    item = FlowInput(declared.id, declared.item_type)
    converted = []
    for index, entry in enumerate(items):
        try:
            converted.append(convert(item, entry))
        except ValueError as exc:
            raise ValueError(f"item {index}: {exc}") from None
    return converted


_SIMPLE = {
    InputType.STRING: _string,
    InputType.SECRET: _string,
    InputType.INT: _int,
    InputType.FLOAT: _float,
    InputType.BOOLEAN: _boolean,
    InputType.DATETIME: _datetime,
    InputType.DATE: _date,
    InputType.DURATION: _duration,
    InputType.URI: _uri,
    InputType.EMAIL: _email,
    InputType.FILE: _file,
}


def convert(declared: FlowInput, value: Any) -> Any:
    """`value` as `declared`'s type; `ValueError` saying what was expected."""
    kind = declared.type
    if kind in _SIMPLE:
        return _SIMPLE[kind](value)
    if kind == InputType.SELECT:
        return _choice(declared, value)
    if kind == InputType.MULTISELECT:
        return [_choice(declared, entry) for entry in _list(value)]
    if kind == InputType.ARRAY:
        return _items(declared, value)
    if isinstance(value, str):  # JSON
        return jsonlimits.loads(value, max_depth=MAX_JSON_DEPTH)
    return value
