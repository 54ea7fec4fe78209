"""Reads of secrets and KV entries, for the engine and the dialects."""

from typing import Any
from uuid import UUID

from django.db.models import Q, QuerySet
from django.utils import timezone

from vault.crypto import decrypt, secret_aad
from vault.models import KeyValue, Secret


def secret_value(*, name: str, namespace_id: UUID | None, account_id: UUID | None = None) -> str:
    """The plaintext of secret `name`: the namespace's credential first, else the account's secret.

    Raises LookupError when neither exists; nothing else in the platform can see another
    namespace's credentials.
    """
    owners = Q()
    if namespace_id is not None:
        owners |= Q(namespace_id=namespace_id)
    if account_id is not None:
        owners |= Q(account_id=account_id)
    if not owners:
        raise LookupError(name)
    candidates = sorted(Secret.objects.filter(owners, name=name), key=lambda s: s.namespace_id is None)
    if not candidates:
        raise LookupError(name)
    secret = candidates[0]
    return decrypt(bytes(secret.ciphertext), bytes(secret.nonce), secret.key_id, aad=secret_aad(secret))


def secret_names(*, namespace_id: UUID | None, account_id: UUID | None = None) -> set[str]:
    owners = Q(namespace_id=namespace_id) if namespace_id else Q(pk__in=[])
    if account_id is not None:
        owners |= Q(account_id=account_id)
    return set(Secret.objects.filter(owners).values_list("name", flat=True))


def live_kv(namespace_id: UUID) -> QuerySet[KeyValue]:
    """Entries of a namespace that have not expired."""
    return KeyValue.objects.filter(namespace_id=namespace_id).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
    )


def kv_value(*, namespace_id: UUID, key: str) -> Any:
    """The value under `key`; LookupError when missing or expired."""
    entry = live_kv(namespace_id).filter(key=key).only("value").first()
    if entry is None:
        raise LookupError(key)
    return entry.value
