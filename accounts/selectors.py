"""Reads scoped to what an account may see: its namespaces, its role in each, visible accounts."""

from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from django.db.models import OuterRef, Q, QuerySet, Subquery

from accounts.models import Account, ApiToken, AuditEntry, Membership, Namespace
from accounts.roles import Role, at_least, rank
from core.errors import Forbidden, NotFound
from core.ids import parse_uuid

_CACHE_ATTR = "_millrace_roles"
CREATOR_ROLE_ATTR = "creator_membership_role"
"""The annotation `annotate_creator_role` adds: the creator's membership role in the row's namespace."""


class Created(Protocol):
    """A namespaced row with a creating account (an execution, a flow...)."""

    created_by: Account | None
    namespace_id: UUID


def namespace_roles(account: Account) -> dict[UUID, str]:
    """The account's role in each namespace it belongs to (global admins: see `role_in`).

    The account's own role applies in its default namespace; memberships add others.
    Cached on the instance for the length of a request.
    """
    cached = getattr(account, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    roles: dict[UUID, str] = {}
    if account.default_namespace_id:
        roles[account.default_namespace_id] = account.role
    for namespace_id, role in account.memberships.values_list("namespace_id", "role"):
        if rank(role) > rank(roles.get(namespace_id)):
            roles[namespace_id] = role
    setattr(account, _CACHE_ATTR, roles)
    return roles


def forget_roles(account: Account) -> None:
    """Drop the cached roles after memberships change."""
    if hasattr(account, _CACHE_ATTR):
        delattr(account, _CACHE_ATTR)


def role_in(account: Account | None, namespace: Namespace | UUID | None) -> str | None:
    if account is None or namespace is None:
        return None
    if account.is_global_admin:
        return Role.ADMIN
    namespace_id = namespace.id if isinstance(namespace, Namespace) else namespace
    return namespace_roles(account).get(namespace_id)


def annotate_creator_role(queryset: QuerySet, *, attr: str = CREATOR_ROLE_ATTR) -> QuerySet:
    """Annotate each row's creator's membership role in the row's namespace.

    One correlated subquery instead of a roles query per row, so a page costs the same
    whatever its size; `creator_role` turns the annotation into the role.
    """
    membership_role = Membership.objects.filter(
        account_id=OuterRef("created_by_id"), namespace_id=OuterRef("namespace_id")
    ).values("role")[:1]
    return queryset.annotate(**{attr: Subquery(membership_role)})


def role_from_annotation(account: Account | None, namespace_id: UUID, membership_role: str | None) -> str | None:
    """The `role_in` rule from an already-read membership role, without a query.

    Global admins are admins; the account's own role counts in its default namespace; a
    membership wins only when it ranks higher (on a tie such as `user`/`editor` the account's
    own word stays), exactly as `namespace_roles` decides.
    """
    if account is None:
        return None
    if account.is_global_admin:
        return Role.ADMIN
    own = account.role if account.default_namespace_id == namespace_id else None
    return membership_role if rank(membership_role) > rank(own) else own


def creator_role(row: Created, *, attr: str = CREATOR_ROLE_ATTR) -> str | None:
    """The creating account's role in the row's namespace (None without a creator or a role).

    Uses the `annotate_creator_role` annotation when the row has one (lists), else asks
    `role_in` (a single row).
    """
    account = row.created_by
    if account is None:
        return None
    if not hasattr(row, attr):
        return role_in(account, row.namespace_id)
    return role_from_annotation(account, row.namespace_id, getattr(row, attr))


def namespace_ids_for(account: Account, minimum: str = Role.VIEWER) -> list[UUID] | None:
    """Ids of namespaces where the account holds `minimum` or more; None means all of them."""
    if account.is_global_admin:
        return None
    return [ns for ns, role in namespace_roles(account).items() if at_least(role, minimum)]


def namespace_list(*, account: Account, minimum: str = Role.VIEWER) -> QuerySet[Namespace]:
    ids = namespace_ids_for(account, minimum)
    queryset = Namespace.objects.all()
    return queryset if ids is None else queryset.filter(id__in=ids)


def scope_to_namespaces(
    queryset: QuerySet, *, account: Account, field: str = "namespace", minimum: str = Role.VIEWER
) -> QuerySet:
    """Filter any queryset with a namespace relation to the account's namespaces."""
    ids = namespace_ids_for(account, minimum)
    return queryset if ids is None else queryset.filter(namespace_match(field, ids))


def namespace_match(field: str, ids: list[UUID]) -> Q:
    """`<field>_id` among `ids`; one id as an equality, which SQLite (unlike PostgreSQL) needs
    to read a (namespace, ...) index in order instead of sorting every matching row."""
    return Q(**{f"{field}_id": ids[0]}) if len(ids) == 1 else Q(**{f"{field}_id__in": ids})


def ensure_role(account: Account, namespace: Namespace, minimum: str) -> None:
    """404 when the namespace is not readable at all, 403 when the role is too low."""
    role = role_in(account, namespace)
    if role is None:
        raise NotFound(f"Namespace '{namespace.name}' not found.")
    if not at_least(role, minimum):
        raise Forbidden(f"This needs the role '{minimum}' in namespace '{namespace.name}'.")


def namespace_get(*, account: Account, name: str) -> Namespace:
    namespace = Namespace.objects.filter(name=name).first()
    if namespace is None or role_in(account, namespace) is None:
        raise NotFound(f"Namespace '{name}' not found.")
    return namespace


@dataclass(frozen=True)
class NamespaceMember:
    """An account with a role in a namespace; `source` says whether it is its default one or a membership."""

    account_id: UUID
    username: str
    role: str
    source: str


def namespace_members(*, account: Account, namespace: Namespace) -> list[NamespaceMember]:
    """Accounts with a role in the namespace, by username; 404 when the caller cannot read it.

    By default namespace or by membership, the higher role winning (a tie keeps the default).
    """
    if role_in(account, namespace) is None:
        raise NotFound(f"Namespace '{namespace.name}' not found.")
    members: dict[Any, NamespaceMember] = {}
    for member in Account.objects.filter(default_namespace=namespace).order_by("username"):
        members[member.pk] = NamespaceMember(member.pk, member.username, member.role, "default")
    for membership in Membership.objects.filter(namespace=namespace).select_related("account"):
        current = members.get(membership.account_id)
        if current is None or rank(membership.role) > rank(current.role):
            members[membership.account_id] = NamespaceMember(
                membership.account_id, membership.account.username, membership.role, "membership"
            )
    return sorted(members.values(), key=lambda member: member.username)


def administered_namespace_ids(account: Account) -> list[UUID] | None:
    return namespace_ids_for(account, Role.ADMIN)


def account_list(*, account: Account, role: str | None = None) -> QuerySet[Account]:
    """Accounts the caller administers, and the caller itself."""
    queryset = Account.objects.select_related("default_namespace").order_by("date_joined", "username")
    admin_ids = administered_namespace_ids(account)
    if admin_ids is not None:
        queryset = queryset.filter(
            Q(id=account.id) | Q(default_namespace_id__in=admin_ids) | Q(memberships__namespace_id__in=admin_ids)
        ).distinct()
    if role:
        queryset = queryset.filter(role=role)
    return queryset


def account_get(*, account: Account, account_id: UUID | str) -> Account:
    try:
        return account_list(account=account).get(id=parse_uuid(account_id, what="Account"))
    except Account.DoesNotExist as exc:
        raise NotFound("Account not found.") from exc


def email_visible(*, viewer: Account | None, account: Account) -> bool:
    """Whether `viewer` may read the account's e-mail: global admins and the account itself only.

    A namespace admin can add any account to their namespace; showing them its members'
    usernames and roles is enough, and their e-mail would leak across tenants.
    """
    return viewer is not None and (viewer.is_global_admin or viewer.pk == account.pk)


def can_administer(actor: Account, target: Account) -> bool:
    """Whether `actor` may change, delete or issue tokens for `target` (someone else).

    Global admins administer everyone. Anyone else administers a target only when the
    target is not a global admin, holds a role somewhere, and the actor is admin in *every*
    namespace where the target holds one (its default namespace and each membership):
    otherwise a namespace admin could take over an account that is admin elsewhere (reset
    its password, mint it a token) and act with that account's roles.
    """
    if actor.is_global_admin:
        return True
    if target.is_global_admin:
        return False
    held = held_namespace_ids(target)
    return bool(held) and all(role_in(actor, namespace_id) == Role.ADMIN for namespace_id in held)


def held_namespace_ids(account: Account) -> set[UUID]:
    """Every namespace where the account holds a role, read fresh (never from the roles cache)."""
    held = set(Membership.objects.filter(account=account).values_list("namespace_id", flat=True))
    if account.default_namespace_id:
        held.add(account.default_namespace_id)
    return held


def api_token_list(*, account: Account) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(account=account)


def audit_list(
    *, account: Account, namespace: str | None = None, actor: str | None = None, action: str | None = None
) -> QuerySet[AuditEntry]:
    """Audit entries of namespaces the caller administers (all for a global admin)."""
    queryset = AuditEntry.objects.all()
    admin_ids = administered_namespace_ids(account)
    if admin_ids is not None:
        names = list(Namespace.objects.filter(id__in=admin_ids).values_list("name", flat=True))
        queryset = queryset.filter(namespace__in=names)
    if namespace:
        queryset = queryset.filter(namespace=namespace)
    if actor:
        queryset = queryset.filter(Q(actor_name=actor) | Q(actor_id__in=_uuid_or_none(actor)))
    if action:
        queryset = queryset.filter(action=action)
    return queryset


def _uuid_or_none(value: str) -> list[UUID]:
    try:
        return [UUID(value)]
    except ValueError:
        return []
