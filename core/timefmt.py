"""ISO 8601 timestamps in UTC with a `Z`, as every dialect shows them."""

from datetime import UTC, datetime


def isoformat(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat(timespec="microseconds")
    return text.replace("+00:00", "Z")


def seconds_text(seconds: float | None) -> str:
    """`0.042 s`, `3.4 s`, `2 min 5 s`, `1 h 3 min`: precise for short steps, readable for long
    runs (the console's durations); "" for none."""
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds:.3f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        minutes, rest = divmod(int(seconds), 60)
        return f"{minutes} min {rest} s"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours} h {rest // 60} min"
