import pytest

from accounts import services
from accounts.models import Account, AuditEntry, Namespace
from accounts.roles import Role
from accounts.selectors import forget_roles
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tests.factories import PASSWORD, AccountFactory, MembershipFactory, NamespaceFactory

pytestmark = pytest.mark.django_db


def test_bootstrap_account_gets_default_namespace_and_is_superuser():
    account = services.account_create(actor=None, username="first", password=PASSWORD, role=Role.ADMIN)
    assert account.default_namespace.name == "default"
    assert account.is_superuser and account.is_global_admin
    assert account.check_password(PASSWORD)


def test_bootstrap_is_closed_once_an_account_exists():
    AccountFactory()
    with pytest.raises(Forbidden):
        services.account_create(actor=None, username="late", password=PASSWORD)


def test_new_account_lands_in_creators_default_namespace_and_is_audited():
    admin = AccountFactory(role=Role.ADMIN)
    account = services.account_create(actor=admin, email="new@example.com", password=PASSWORD, role=Role.USER)
    assert account.username == "new@example.com"
    assert account.default_namespace == admin.default_namespace
    entry = AuditEntry.objects.get(action="account.create", resource_id=str(account.id))
    assert entry.actor == admin and entry.namespace == admin.default_namespace.name
    assert PASSWORD not in str(entry.summary)


def test_unknown_namespace_is_404_for_namespace_admin_but_created_for_global_admin():
    ns = NamespaceFactory()
    ns_admin = AccountFactory(role=Role.VIEWER)
    MembershipFactory(account=ns_admin, namespace=ns, role=Role.ADMIN)
    with pytest.raises(NotFound):
        services.account_create(actor=ns_admin, username="x", password=PASSWORD, namespace="nowhere")
    admin = AccountFactory(role=Role.ADMIN)
    account = services.account_create(actor=admin, username="y", password=PASSWORD, namespace="brand-new")
    assert Namespace.objects.filter(name="brand-new").exists()
    assert account.default_namespace.name == "brand-new"


def test_nobody_grants_a_role_above_their_own():
    ns = NamespaceFactory()
    ns_admin = AccountFactory(role=Role.VIEWER)
    MembershipFactory(account=ns_admin, namespace=ns, role=Role.ADMIN)
    with pytest.raises(Forbidden):
        services.account_create(actor=ns_admin, username="boss", password=PASSWORD, role=Role.ADMIN, namespace=ns.name)
    editor = services.account_create(
        actor=ns_admin, username="ed", password=PASSWORD, role=Role.EDITOR, namespace=ns.name
    )
    assert editor.role == Role.EDITOR


def test_editor_cannot_create_accounts():
    editor = AccountFactory(role=Role.EDITOR)
    with pytest.raises(Forbidden):
        services.account_create(actor=editor, username="x", password=PASSWORD)
    assert not Account.objects.filter(username="x").exists()


def test_duplicates_weak_passwords_and_bad_roles_are_refused():
    admin = AccountFactory(role=Role.ADMIN, username="taken")
    with pytest.raises(Conflict):
        services.account_create(actor=admin, username="TAKEN", password=PASSWORD)
    with pytest.raises(ValidationFailed) as weak:
        services.account_create(actor=admin, username="weak", password="short")
    assert weak.value.details[0]["field"] == "password"
    with pytest.raises(ValidationFailed):
        services.account_create(actor=admin, username="odd", password=PASSWORD, role="overlord")
    assert not Account.objects.filter(username__in=["weak", "odd"]).exists()


def test_self_update_allows_profile_but_not_role():
    account = AccountFactory(role=Role.EDITOR)
    services.account_update(actor=account, account=account, name="New Name", email="n@example.com")
    account.refresh_from_db()
    assert account.name == "New Name"
    with pytest.raises(Forbidden):
        services.account_update(actor=account, account=account, role=Role.ADMIN)


def test_delete_needs_administration_and_never_self():
    admin = AccountFactory(role=Role.ADMIN)
    victim = AccountFactory()
    with pytest.raises(Forbidden):
        services.account_delete(actor=admin, account=admin)
    with pytest.raises(Forbidden):
        services.account_delete(actor=victim, account=AccountFactory())
    services.account_delete(actor=admin, account=victim)
    assert not Account.objects.filter(id=victim.id).exists()


def test_namespaces_and_memberships():
    admin = AccountFactory(role=Role.ADMIN)
    ns = services.namespace_create(actor=admin, name="team-a", description="A")
    with pytest.raises(Conflict):
        services.namespace_create(actor=admin, name="team-a")
    with pytest.raises(ValidationFailed):
        services.namespace_create(actor=admin, name="bad name!")
    with pytest.raises(Forbidden):
        services.namespace_create(actor=AccountFactory(), name="nope")
    member = AccountFactory()
    services.membership_set(actor=admin, namespace=ns, account=member, role=Role.EXECUTOR)
    from accounts.selectors import role_in

    assert role_in(member, ns) == Role.EXECUTOR
    services.membership_remove(actor=admin, namespace=ns, account=member)
    assert role_in(member, ns) is None
    with pytest.raises(NotFound):
        services.membership_remove(actor=admin, namespace=ns, account=member)


def test_api_tokens_are_hashed_and_revocable():
    account = AccountFactory()
    token, raw = services.api_token_create(actor=account, account=account, name="ci")
    assert raw.startswith("mr_") and raw not in token.digest
    assert token.digest == services.api_token_digest(raw)
    services.api_token_revoke(actor=account, token=token)
    token.refresh_from_db()
    assert token.revoked_at is not None
    with pytest.raises(Forbidden):
        services.api_token_create(actor=AccountFactory(), account=account, name="stolen")


@pytest.fixture
def two_teams():
    """`team-a`'s admin (by membership), and an account of `team-a` that is admin of `team-b`."""
    team_a, team_b = NamespaceFactory(name="team-a"), NamespaceFactory(name="team-b")
    a_admin = AccountFactory(role=Role.VIEWER, default_namespace=team_a)
    MembershipFactory(account=a_admin, namespace=team_a, role=Role.ADMIN)
    b_admin = AccountFactory(role=Role.VIEWER, default_namespace=team_a)
    MembershipFactory(account=b_admin, namespace=team_b, role=Role.ADMIN)
    return team_a, team_b, a_admin, b_admin


def test_namespace_admin_cannot_take_over_an_admin_of_another_namespace(two_teams):
    _, _, a_admin, b_admin = two_teams
    with pytest.raises(Forbidden):
        services.account_update(actor=a_admin, account=b_admin, password="taken-over-password")
    with pytest.raises(Forbidden):
        services.account_update(actor=a_admin, account=b_admin, name="Renamed")
    with pytest.raises(Forbidden):
        services.api_token_create(actor=a_admin, account=b_admin, name="stolen")
    token, _ = services.api_token_create(actor=b_admin, account=b_admin, name="own")
    with pytest.raises(Forbidden):
        services.api_token_revoke(actor=a_admin, token=token)
    with pytest.raises(Forbidden):
        services.account_delete(actor=a_admin, account=b_admin)
    b_admin.refresh_from_db()
    assert b_admin.check_password(PASSWORD) and b_admin.api_tokens.count() == 1


def test_any_role_outside_the_callers_namespaces_protects_the_account(two_teams):
    """A viewer membership elsewhere is enough: the caller must be admin wherever the target has a role."""
    team_a, team_b, a_admin, _ = two_teams
    target = AccountFactory(default_namespace=team_a)
    MembershipFactory(account=target, namespace=team_b, role=Role.VIEWER)
    with pytest.raises(Forbidden):
        services.account_update(actor=a_admin, account=target, password="another-password-1")
    MembershipFactory(account=a_admin, namespace=team_b, role=Role.ADMIN)
    forget_roles(a_admin)
    services.account_update(actor=a_admin, account=target, password="another-password-1")
    target.refresh_from_db()
    assert target.check_password("another-password-1")


def test_bootstrap_rechecks_after_taking_the_lock(monkeypatch):
    """A first registration that commits while we wait for the lock closes the bootstrap."""

    def rival_registers_first() -> None:
        AccountFactory(username="rival")

    monkeypatch.setattr(services, "_bootstrap_lock", rival_registers_first)
    with pytest.raises(Forbidden):
        services.account_create(actor=None, username="second", password=PASSWORD, role=Role.ADMIN)
    assert not Account.objects.filter(username="second", is_superuser=True).exists()


def test_bootstrap_lock_is_a_postgresql_advisory_transaction_lock(monkeypatch):
    executed: list[str] = []

    class Cursor:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def execute(self, sql, params=None):
            executed.append(sql % tuple(params or ()))

    class FakeConnection:
        vendor = "postgresql"

        def cursor(self):
            return Cursor()

    monkeypatch.setattr(services, "connection", FakeConnection())
    services._bootstrap_lock()
    assert executed == [f"SELECT pg_advisory_xact_lock({services.BOOTSTRAP_LOCK_ID})"]
    monkeypatch.setattr(FakeConnection, "vendor", "sqlite")
    services._bootstrap_lock()
    assert len(executed) == 1  # SQLite's IMMEDIATE transactions already serialise writers
