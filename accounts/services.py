"""Writes on accounts, namespaces, memberships, API tokens and the audit log."""

import hashlib
import secrets
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import (
    DEFAULT_NAMESPACE,
    Account,
    ApiToken,
    AuditEntry,
    Membership,
    Namespace,
    namespace_name_validator,
)
from accounts.roles import Role, rank
from accounts.selectors import can_administer, ensure_role, forget_roles, role_in
from core.errors import BadRequest, Conflict, Forbidden, NotFound, ValidationFailed

API_TOKEN_PREFIX = "mr_"
BOOTSTRAP_NAMESPACE = DEFAULT_NAMESPACE
KEEP = object()
"""An argument not given: the field keeps its value."""
BOOTSTRAP_LOCK_ID = 0x4D494C4C  # "MILL": the advisory lock key that serialises the bootstrap registration


def audit_entry(
    *,
    actor: Account | None,
    action: str,
    resource_type: str,
    resource_id: Any = "",
    namespace: Namespace | str | None = None,
    summary: dict | None = None,
) -> AuditEntry:
    """An unsaved audit entry; `audit_record` saves one. Callers pass summaries without secret
    values; a caller that inserts it with its other rows saves a statement."""
    namespace_name = namespace.name if isinstance(namespace, Namespace) else (namespace or "")
    return AuditEntry(
        actor=actor,
        actor_name=actor.username if actor else "system",
        action=action,
        resource_type=resource_type,
        resource_id=str(resource_id or ""),
        namespace=namespace_name,
        summary=summary or {},
    )


def audit_record(**entry: Any) -> AuditEntry:
    """Append an audit entry (the keyword arguments of `audit_entry`)."""
    audit = audit_entry(**entry)
    audit.save(force_insert=True)
    return audit


def _bootstrap_lock() -> None:
    """Serialise first registrations until the transaction ends.

    Without it two concurrent bootstraps on PostgreSQL both see no account and both create a
    superuser. SQLite needs nothing: its IMMEDIATE transactions already serialise writers.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [BOOTSTRAP_LOCK_ID])


def _bootstrap_open() -> None:
    """Refuse the bootstrap once an account exists; re-checked under the lock, as a rival may just have committed."""
    if Account.objects.exists():
        raise Forbidden("Registration is closed; an administrator creates accounts.")
    _bootstrap_lock()
    if Account.objects.exists():
        raise Forbidden("Registration is closed; an administrator creates accounts.")


def _check_password(password: str, account: Account | None = None) -> None:
    try:
        validate_password(password, account)
    except DjangoValidationError as exc:
        raise ValidationFailed(
            "The password is not acceptable.", details=[{"field": "password", "reason": m} for m in exc.messages]
        ) from exc


def _check_current_password(account: Account, current_password: str | None) -> None:
    if not current_password:
        raise BadRequest(
            "Changing your own password needs your current password.",
            details=[{"field": "current_password", "reason": "required"}],
        )
    if not account.check_password(current_password):
        raise BadRequest(
            "The current password is not correct.", details=[{"field": "current_password", "reason": "incorrect"}]
        )


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise ValidationFailed(
            f"Unknown role '{role}'.", details=[{"field": "role", "reason": f"one of {', '.join(Role.values)}"}]
        )


def _target_namespace(*, actor: Account | None, name: str | None) -> Namespace:
    """The namespace a new account lands in: the named one, else the creator's home (`namespace_home`)."""
    if actor is None:
        namespace, _ = Namespace.objects.get_or_create(
            name=name or BOOTSTRAP_NAMESPACE, defaults={"description": "Created with the first account."}
        )
        return namespace
    if name:
        namespace = Namespace.objects.filter(name=name).first()
        if namespace is None:
            if not actor.is_global_admin:
                raise NotFound(f"Namespace '{name}' not found.")
            namespace = namespace_create(actor=actor, name=name)
        return namespace
    return namespace_home(account=actor)


def namespace_home(*, account: Account) -> Namespace:
    """Where an account's writes go when it names no namespace: its default one, else `default`.

    An account made before every creation path gave one (or whose namespace was deleted) has
    none. A global admin then gets `default`, created when missing; anyone else gets it only
    where it exists (their role in it is checked as usual), else a 422 asking for a namespace.
    """
    if account.default_namespace is not None:
        return account.default_namespace
    if account.is_global_admin:
        return Namespace.objects.get_default()
    namespace = Namespace.objects.filter(name=DEFAULT_NAMESPACE).first()
    if namespace is None:
        raise ValidationFailed(
            "Your account has no default namespace: name a namespace.",
            details=[{"field": "namespace", "reason": "required"}],
        )
    return namespace


@transaction.atomic
def account_create(
    *,
    actor: Account | None,
    password: str,
    username: str = "",
    email: str = "",
    name: str = "",
    role: str = Role.VIEWER,
    namespace: str | None = None,
) -> Account:
    """Create an account. With no actor this is the bootstrap: allowed only while none exists."""
    if actor is None:
        _bootstrap_open()
    username = (username or email).strip()
    if not username:
        raise ValidationFailed(
            "A username or email is required.", details=[{"field": "username", "reason": "required"}]
        )
    _check_role(role)
    target = _target_namespace(actor=actor, name=namespace)
    if actor is not None:
        ensure_role(actor, target, Role.ADMIN)
        if role == Role.ADMIN and not actor.is_global_admin:
            raise Forbidden("Only a global admin can create another global admin.")
        if rank(role) > rank(role_in(actor, target)):
            raise Forbidden("Nobody can give a role above their own.")
    _check_password(password)
    if Account.objects.filter(username__iexact=username).exists():
        raise Conflict(f"An account named '{username}' already exists.")
    if email and Account.objects.filter(email__iexact=email).exists():
        raise Conflict(f"An account with email '{email}' already exists.")
    account = Account(username=username, email=email, name=name, role=role, default_namespace=target)
    try:
        account.full_clean(exclude=["password"])
    except DjangoValidationError as exc:
        raise ValidationFailed(
            "The account is not valid.",
            details=[{"field": f, "reason": m} for f, ms in exc.message_dict.items() for m in ms],
        ) from exc
    account.set_password(password)
    account.is_staff = True
    account.is_superuser = actor is None and role == Role.ADMIN
    account.save()
    audit_record(
        actor=actor or account,
        action="account.create",
        resource_type="account",
        resource_id=account.id,
        namespace=target,
        summary={"username": username, "role": role},
    )
    return account


@transaction.atomic
def account_update(
    *,
    actor: Account,
    account: Account,
    name: str | None = None,
    email: str | None = None,
    password: str | None = None,
    current_password: str | None = None,
    role: str | None = None,
) -> Account:
    """Change an account. Anyone may change their own name, email and password, not their role.

    Changing one's own password needs the current one (a stolen token must not take the
    account over); an admin resetting another account's does not. Either way the new hash
    revokes every login token issued before it (`CHECK_REVOKE_TOKEN`); API tokens stay.
    """
    is_self = actor.id == account.id
    if not is_self and not can_administer(actor, account):
        raise Forbidden("You cannot change this account.")
    if password is not None and is_self:
        _check_current_password(account, current_password)
    changes: dict[str, Any] = {}
    if role is not None and role != account.role:
        _check_role(role)
        if is_self:
            raise Forbidden("You cannot change your own role.")
        if role == Role.ADMIN and not actor.is_global_admin:
            raise Forbidden("Only a global admin can make a global admin.")
        if rank(role) > rank(role_in(actor, account.default_namespace_id)):
            raise Forbidden("Nobody can give a role above their own.")
        changes["role"] = [account.role, role]
        account.role = role
    if name is not None and name != account.name:
        changes["name"] = [account.name, name]
        account.name = name
    if email is not None and email != account.email:
        if email and Account.objects.filter(email__iexact=email).exclude(id=account.id).exists():
            raise Conflict(f"An account with email '{email}' already exists.")
        changes["email"] = "changed"  # not the addresses: namespace admins read this log
        account.email = email
    if password is not None:
        _check_password(password, account)
        account.set_password(password)
        changes["password"] = "changed"
    account.save()
    forget_roles(account)
    audit_record(
        actor=actor,
        action="account.update",
        resource_type="account",
        resource_id=account.id,
        namespace=account.default_namespace,
        summary=changes,
    )
    return account


@transaction.atomic
def account_delete(*, actor: Account, account: Account) -> None:
    if actor.id == account.id:
        raise Forbidden("You cannot delete your own account.")
    if not can_administer(actor, account):
        raise Forbidden("You cannot delete this account.")
    audit_record(
        actor=actor,
        action="account.delete",
        resource_type="account",
        resource_id=account.id,
        namespace=account.default_namespace,
        summary={"username": account.username},
    )
    account.delete()


@transaction.atomic
def namespace_create(*, actor: Account, name: str, description: str = "") -> Namespace:
    if not actor.is_global_admin:
        raise Forbidden("Only a global admin creates namespaces.")
    try:
        namespace_name_validator(name)
    except DjangoValidationError as exc:
        raise ValidationFailed(
            f"'{name}' is not a valid namespace name.", details=[{"field": "name", "reason": exc.messages[0]}]
        ) from exc
    try:
        with transaction.atomic():
            namespace = Namespace.objects.create(name=name, description=description)
    except IntegrityError as exc:
        raise Conflict(f"Namespace '{name}' already exists.") from exc
    audit_record(
        actor=actor,
        action="namespace.create",
        resource_type="namespace",
        resource_id=namespace.id,
        namespace=namespace,
        summary={"name": name},
    )
    return namespace


@transaction.atomic
def namespace_update(
    *, actor: Account, namespace: Namespace, description: str, retention_days: int | object | None = KEEP
) -> Namespace:
    """Change a namespace (its admin); `retention_days` (None: the global default) only when given."""
    ensure_role(actor, namespace, Role.ADMIN)
    namespace.description = description
    fields, summary = ["description", "updated_at"], {"description": description}
    if retention_days is not KEEP:
        if retention_days is not None and (not isinstance(retention_days, int) or retention_days < 0):
            raise ValidationFailed(
                "retention_days: a whole number of days, 0 or more",
                details=[{"field": "retention_days", "reason": "a whole number of days, 0 or more"}],
            )
        namespace.retention_days = retention_days
        fields.append("retention_days")
        summary["retentionDays"] = retention_days
    namespace.save(update_fields=fields)
    audit_record(
        actor=actor,
        action="namespace.update",
        resource_type="namespace",
        resource_id=namespace.id,
        namespace=namespace,
        summary=summary,
    )
    return namespace


@transaction.atomic
def namespace_delete(*, actor: Account, namespace: Namespace) -> None:
    if not actor.is_global_admin:
        raise Forbidden("Only a global admin deletes namespaces.")
    audit_record(
        actor=actor,
        action="namespace.delete",
        resource_type="namespace",
        resource_id=namespace.id,
        namespace=namespace,
        summary={"name": namespace.name},
    )
    namespace.delete()


@transaction.atomic
def membership_set(*, actor: Account, namespace: Namespace, account: Account, role: str) -> Membership:
    """Give an account a role in a namespace (namespace admins, up to their own role)."""
    ensure_role(actor, namespace, Role.ADMIN)
    _check_role(role)
    if role == Role.USER:
        role = Role.EDITOR
    membership, created = Membership.objects.update_or_create(
        account=account, namespace=namespace, defaults={"role": role}
    )
    forget_roles(account)
    audit_record(
        actor=actor,
        action="membership.set",
        resource_type="membership",
        resource_id=membership.id,
        namespace=namespace,
        summary={"account": account.username, "role": role, "created": created},
    )
    return membership


@transaction.atomic
def membership_remove(*, actor: Account, namespace: Namespace, account: Account) -> None:
    ensure_role(actor, namespace, Role.ADMIN)
    deleted, _ = Membership.objects.filter(account=account, namespace=namespace).delete()
    if not deleted:
        raise NotFound("Membership not found.")
    forget_roles(account)
    audit_record(
        actor=actor,
        action="membership.remove",
        resource_type="membership",
        namespace=namespace,
        summary={"account": account.username},
    )


def api_token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, actor: Account, account: Account, name: str) -> tuple[ApiToken, str]:
    """Create a personal token; the raw value is returned once and never stored."""
    if actor.id != account.id and not can_administer(actor, account):
        raise Forbidden("You cannot create tokens for this account.")
    raw = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        account=account, name=name or "API token", prefix=raw[:10], digest=api_token_digest(raw)
    )
    audit_record(
        actor=actor,
        action="api_token.create",
        resource_type="api_token",
        resource_id=token.id,
        namespace=account.default_namespace,
        summary={"name": token.name, "account": account.username},
    )
    return token, raw


@transaction.atomic
def api_token_revoke(*, actor: Account, token: ApiToken) -> ApiToken:
    if actor.id != token.account_id and not can_administer(actor, token.account):
        raise Forbidden("You cannot revoke this token.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action="api_token.revoke",
            resource_type="api_token",
            resource_id=token.id,
            namespace=token.account.default_namespace,
            summary={"name": token.name},
        )
    return token
