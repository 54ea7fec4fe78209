"""Writes of secrets and KV entries (reads, role-checked ones included, are in `vault.selectors`)."""

import re
from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import Account, Namespace
from accounts.roles import Role
from accounts.selectors import can_administer, ensure_role
from accounts.services import audit_record
from core.errors import Conflict, NotFound, ValidationFailed
from vault.crypto import encrypt, secret_aad
from vault.kv import KV_MAX_TTL_SECONDS, kv_delete, kv_put  # noqa: F401  (re-exported: the API refuses a larger ttl)
from vault.masking import MIN_SECRET_LENGTH
from vault.models import KeyValue, Secret
from vault.selectors import live_kv

SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,199}$")


def _secret_owner_check(actor: Account, *, account: Account | None, namespace: Namespace | None) -> None:
    if (account is None) == (namespace is None):
        raise ValueError("A secret has exactly one owner: an account or a namespace.")
    if namespace is not None:
        ensure_role(actor, namespace, Role.EDITOR)
    elif actor.pk != account.pk and not can_administer(actor, account):
        raise NotFound("Account not found.")


def _secret_filter(*, account: Account | None, namespace: Namespace | None) -> dict[str, Any]:
    return {"account": account} if account is not None else {"namespace": namespace}


@transaction.atomic
def secret_set(
    *,
    actor: Account,
    name: str,
    value: str,
    account: Account | None = None,
    namespace: Namespace | None = None,
    description: str | None = None,
    create_only: bool = False,
    secret: Secret | None = None,
) -> Secret:
    """Create or replace a secret of an account (FlowRunner) or a namespace (credential).

    The value is encrypted with AES-256-GCM bound to its owner and name; it is never
    returned, logged or audited. `create_only` makes an existing name a conflict.
    """
    _secret_owner_check(actor, account=account, namespace=namespace)
    if not isinstance(name, str) or not SECRET_NAME.match(name):
        raise ValidationFailed(
            "A secret name is letters, digits and '_' (starting with a letter or '_').",
            details=[{"field": "name", "reason": "invalid"}],
        )
    if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
        raise ValidationFailed(
            f"A secret value is a string of at least {MIN_SECRET_LENGTH} characters (shorter ones cannot be masked).",
            details=[{"field": "value", "reason": "too short"}],
        )
    owner = _secret_filter(account=account, namespace=namespace)
    existing = secret or Secret.objects.select_for_update().filter(name=name, **owner).first()
    if existing is not None and create_only:
        raise Conflict(f"A secret named '{name}' already exists.")
    target = existing or Secret(name=name, created_by=actor, **owner)
    target.name = name
    if description is not None:
        target.description = description
    target.ciphertext, target.nonce, target.key_id = encrypt(value, aad=secret_aad(target))
    try:
        with transaction.atomic():
            target.save()
    except IntegrityError as exc:
        raise Conflict(f"A secret named '{name}' already exists.") from exc
    audit_record(
        actor=actor,
        action="secret.update" if existing else "secret.create",
        resource_type="secret",
        resource_id=target.pk,
        namespace=namespace or (account.default_namespace if account else None),
        summary={"name": name, "owner": "namespace" if namespace else "account"},
    )
    return target


@transaction.atomic
def secret_delete(*, actor: Account, secret: Secret) -> None:
    _secret_owner_check(actor, account=secret.account, namespace=secret.namespace)
    audit_record(
        actor=actor,
        action="secret.delete",
        resource_type="secret",
        resource_id=secret.pk,
        namespace=secret.namespace or (secret.account.default_namespace if secret.account else None),
        summary={"name": secret.name},
    )
    secret.delete()


# --- Role-checked API services (workflowdev credentials and KV); their reads are in vault.selectors


@transaction.atomic
def credential_update(
    *, actor: Account, secret: Secret, name: str | None = None, description: str | None = None, value: str | None = None
) -> Secret:
    """Rename, describe or re-encrypt a credential; a rename without a value re-encrypts nothing.

    The ciphertext is bound to the secret's name, so renaming needs the value again.
    """
    if value is not None:
        return secret_set(
            actor=actor,
            name=name or secret.name,
            value=value,
            namespace=secret.namespace,
            description=description,
            secret=secret,
        )
    _secret_owner_check(actor, account=None, namespace=secret.namespace)
    if name is not None and name != secret.name:
        raise ValidationFailed(
            "Renaming a credential needs its value again.", details=[{"field": "value", "reason": "required"}]
        )
    if description is not None and description != secret.description:
        secret.description = description
        secret.save(update_fields=["description", "updated_at"])
        audit_record(
            actor=actor,
            action="secret.update",
            resource_type="secret",
            resource_id=secret.pk,
            namespace=secret.namespace,
            summary={"name": secret.name, "owner": "namespace", "description": True},
        )
    return secret


def kv_entry_set(*, actor: Account, namespace: Namespace, key: str, value: Any, ttl: int | None = None) -> KeyValue:
    """Set a key (editor); the value is never copied into the audit log."""
    ensure_role(actor, namespace, Role.EDITOR)
    with transaction.atomic():
        entry = kv_put(namespace_id=namespace.pk, key=key, value=value, ttl=ttl)
        audit_record(
            actor=actor,
            action="kv.set",
            resource_type="kv",
            resource_id=key,
            namespace=namespace,
            summary={"key": key, "ttl": ttl},
        )
    return entry


@transaction.atomic
def kv_entry_delete(*, actor: Account, namespace: Namespace, key: str) -> None:
    ensure_role(actor, namespace, Role.EDITOR)
    if not live_kv(namespace.pk).filter(key=key).exists():
        raise NotFound(f"Key '{key}' not found in namespace '{namespace.name}'.")
    kv_delete(namespace_id=namespace.pk, key=key)
    audit_record(
        actor=actor, action="kv.delete", resource_type="kv", resource_id=key, namespace=namespace, summary={"key": key}
    )
