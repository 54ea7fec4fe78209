"""Durations in definitions: plain seconds or ISO-8601 (`PT30S`, `PT1H30M`, `P1DT2H`, `P2W`).

Kestra-style flows write ISO-8601 durations, FlowRunner-style ones write seconds; both
become a number of seconds in the IR. Years and months are refused: they have no fixed
length, and a timeout or retry delay must.
"""

from __future__ import annotations

import re

_NUMBER = r"(\d+(?:[.,]\d+)?)"
_ISO_DURATION = re.compile(
    rf"^P(?:{_NUMBER}W)?(?:{_NUMBER}D)?(?:T(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?$",
    re.IGNORECASE,
)
_UNIT_SECONDS = (7 * 86400, 86400, 3600, 60, 1)
_CALENDAR = re.compile(r"^P[^T]*[YM]", re.IGNORECASE)  # Y or M before the T: years, months


def parse_duration(value: object) -> float:
    """Seconds (an int when whole) from a number, a numeric string or an ISO-8601 duration.

    Raises `ValueError` naming what is wrong; negative values are the caller's to refuse.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError("must be a number of seconds or an ISO-8601 duration such as PT30S")
    if isinstance(value, int | float):
        return _whole(float(value))
    if not isinstance(value, str):
        raise ValueError("must be a number of seconds or an ISO-8601 duration such as PT30S")
    text = value.strip()
    try:
        return _whole(float(text))
    except ValueError:
        pass
    if _CALENDAR.match(text):
        raise ValueError(f"'{value}' uses years or months, which have no fixed length; use days or hours")
    match = _ISO_DURATION.match(text)
    if not match or text.upper() in {"P", "PT"} or text.upper().endswith("T"):
        raise ValueError(f"'{value}' is not a number of seconds or an ISO-8601 duration such as PT30S")
    seconds = sum(
        float(part.replace(",", ".")) * unit for part, unit in zip(match.groups(), _UNIT_SECONDS, strict=True) if part
    )
    return _whole(seconds)


def _whole(seconds: float) -> float:
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise ValueError("must be a finite number of seconds")
    return int(seconds) if seconds.is_integer() else seconds
