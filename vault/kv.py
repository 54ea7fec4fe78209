"""KV entries of a namespace as flows and agents use them (`kv.get`/`kv.set`, `kv('key')`).

No role check: the engine and agents call these for a namespace they already run in. The
role-checked writes of the API (`kv_entry_set`, `kv_entry_delete`) are in `vault.services`.
"""

import json
from datetime import timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.errors import PayloadTooLarge, ValidationFailed
from vault.models import KeyValue

#: The longest a KV entry may live: a larger `ttl` overflows the expiry date (it was a 500).
KV_MAX_TTL_SECONDS = 100 * 365 * 24 * 3600


def kv_put(*, namespace_id: UUID, key: str, value: Any, ttl: int | None = None) -> KeyValue:
    """Set `key` in a namespace; `ttl` seconds make it expire. Values are capped in size."""
    if not key or len(key) > 255:
        raise ValidationFailed("A KV key is 1 to 255 characters.", details=[{"field": "key", "reason": "length"}])
    size = len(json.dumps(value, default=str).encode())
    if size > settings.MILLRACE_KV_MAX_VALUE_BYTES:
        raise PayloadTooLarge(f"The value is {size} bytes; the limit is {settings.MILLRACE_KV_MAX_VALUE_BYTES}.")
    if ttl is not None and (not isinstance(ttl, int) or isinstance(ttl, bool) or not 0 < ttl <= KV_MAX_TTL_SECONDS):
        raise ValidationFailed(
            f"ttl must be a number of seconds from 1 to {KV_MAX_TTL_SECONDS} (100 years).",
            details=[{"field": "ttl", "reason": "out of range"}],
        )
    expires_at = timezone.now() + timedelta(seconds=ttl) if ttl else None
    with transaction.atomic():
        entry, _ = KeyValue.objects.update_or_create(
            namespace_id=namespace_id, key=key, defaults={"value": value, "expires_at": expires_at}
        )
    return entry


def kv_delete(*, namespace_id: UUID, key: str) -> bool:
    deleted, _ = KeyValue.objects.filter(namespace_id=namespace_id, key=key).delete()
    return bool(deleted)
