"""Ids in URLs are UUIDs; anything else is simply not found."""

from uuid import UUID

from core.errors import NotFound


def parse_uuid(value: object, *, what: str = "Resource") -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError as exc:
        raise NotFound(f"{what} not found.") from exc
