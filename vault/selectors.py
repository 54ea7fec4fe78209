"""Reads of secrets and KV entries: unscoped ones for the engine, role-checked ones for the dialects.

The dialects' reads check the caller's namespaces here, as every scoped read does
(ARCHITECTURE.md "Where logic lives"); a resource outside them is a 404 like a missing one.
"""

from typing import Any
from uuid import UUID

from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import Account, Namespace
from accounts.roles import Role
from accounts.selectors import can_administer, ensure_role, scope_to_namespaces
from core.errors import NotFound
from core.ids import parse_uuid
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


def credential_list(*, actor: Account, namespaces: list[str] | None = None) -> QuerySet[Secret]:
    """Namespace secrets (credentials) of the namespaces the actor can read, optionally only `namespaces`.

    Account secrets are never listed here: they belong to one account, not a namespace.
    """
    queryset = scope_to_namespaces(
        Secret.objects.filter(namespace__isnull=False).select_related("namespace"), account=actor
    )
    if namespaces:
        queryset = queryset.filter(namespace__name__in=namespaces)
    return queryset.order_by("namespace__name", "name")


def credential_get(*, actor: Account, credential_id: UUID | str) -> Secret:
    """One credential; 404 when missing or outside the actor's namespaces (its existence is not told)."""
    secret = credential_list(actor=actor).filter(pk=parse_uuid(credential_id, what="Credential")).first()
    if secret is None:
        raise NotFound("Credential not found.")
    return secret


def account_secret_list(*, actor: Account, account: Account) -> QuerySet[Secret]:
    """An account's own secrets by name, for the account itself or someone who administers it.

    Anyone else gets a 404 for the account, as `vault.services` does on writes: to them the
    account does not exist.
    """
    if actor.pk != account.pk and not can_administer(actor, account):
        raise NotFound("Account not found.")
    return Secret.objects.filter(account=account).order_by("name")


def account_secret_get(*, actor: Account, account: Account, name: str) -> Secret:
    """One secret of an account (`account_secret_list` rules); a missing name is a 404."""
    secret = account_secret_list(actor=actor, account=account).filter(name=name).first()
    if secret is None:
        raise NotFound(f"Secret '{name}' not found.")
    return secret


def kv_entry_list(*, actor: Account, namespace: Namespace) -> QuerySet[KeyValue]:
    """Live (unexpired) entries of a namespace by key; needs viewer (404 outside, as `ensure_role`)."""
    ensure_role(actor, namespace, Role.VIEWER)
    return live_kv(namespace.pk).order_by("key")


def kv_entry_get(*, actor: Account, namespace: Namespace, key: str) -> KeyValue:
    """One live entry; an expired key is a 404 like a missing one."""
    entry = kv_entry_list(actor=actor, namespace=namespace).filter(key=key).first()
    if entry is None:
        raise NotFound(f"Key '{key}' not found in namespace '{namespace.name}'.")
    return entry
