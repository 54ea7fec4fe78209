"""ISO 8601 timestamps in UTC with a `Z`, as every dialect shows them."""

from datetime import UTC, datetime


def isoformat(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat(timespec="microseconds")
    return text.replace("+00:00", "Z")
