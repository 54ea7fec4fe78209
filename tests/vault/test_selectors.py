"""The role-checked reads of credentials and KV entries: scoped to the caller's namespaces, 404 outside."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.roles import Role
from accounts.selectors import forget_roles
from core.errors import NotFound
from tests.factories import AccountFactory, MembershipFactory, NamespaceFactory
from vault import selectors
from vault.crypto import generate_key
from vault.models import KeyValue
from vault.services import kv_put, secret_set

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def credentials_key(settings) -> None:
    settings.MILLRACE_CREDENTIALS_KEY = generate_key()


@pytest.fixture
def world():
    """A team namespace with a credential, a foreign one with another, and a viewer of the team."""
    team, foreign = NamespaceFactory(name="team"), NamespaceFactory(name="foreign")
    root = AccountFactory(role=Role.ADMIN)
    viewer = AccountFactory(role=Role.VIEWER, default_namespace=team)
    mine = secret_set(actor=root, name="TEAM_TOKEN", value="t-value", namespace=team)
    theirs = secret_set(actor=root, name="FOREIGN_TOKEN", value="f-value", namespace=foreign)
    secret_set(actor=root, name="PERSONAL", value="p-value", account=viewer)
    return team, foreign, viewer, mine, theirs


def test_credential_list_shows_only_readable_namespaces_and_no_account_secrets(world):
    _, foreign, viewer, mine, theirs = world
    assert list(selectors.credential_list(actor=viewer)) == [mine]
    MembershipFactory(account=viewer, namespace=foreign, role=Role.VIEWER)
    forget_roles(viewer)
    assert list(selectors.credential_list(actor=viewer)) == [theirs, mine]  # by namespace name
    assert list(selectors.credential_list(actor=viewer, namespaces=["team"])) == [mine]


def test_credential_get_is_404_outside_the_callers_namespaces(world):
    _, _, viewer, mine, theirs = world
    assert selectors.credential_get(actor=viewer, credential_id=str(mine.pk)) == mine
    with pytest.raises(NotFound):
        selectors.credential_get(actor=viewer, credential_id=theirs.pk)
    with pytest.raises(NotFound):
        selectors.credential_get(actor=viewer, credential_id="not-a-uuid")


def test_kv_reads_are_live_entries_of_a_readable_namespace(world):
    team, foreign, viewer, _, _ = world
    kv_put(namespace_id=team.pk, key="b", value=2)
    kv_put(namespace_id=team.pk, key="a", value=1)
    expired = kv_put(namespace_id=team.pk, key="gone", value=0)
    KeyValue.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    kv_put(namespace_id=foreign.pk, key="a", value="theirs")

    assert [entry.key for entry in selectors.kv_entry_list(actor=viewer, namespace=team)] == ["a", "b"]
    assert selectors.kv_entry_get(actor=viewer, namespace=team, key="a").value == 1
    with pytest.raises(NotFound):
        selectors.kv_entry_get(actor=viewer, namespace=team, key="gone")
    with pytest.raises(NotFound):
        selectors.kv_entry_list(actor=viewer, namespace=foreign)
    with pytest.raises(NotFound):
        selectors.kv_entry_get(actor=viewer, namespace=foreign, key="a")


def test_account_secrets_are_read_by_the_account_and_those_who_administer_it(world):
    team, foreign, viewer, _, _ = world
    root = AccountFactory(role=Role.ADMIN)
    secret_set(actor=root, name="ANOTHER", value="a-value", account=viewer)
    assert [s.name for s in selectors.account_secret_list(actor=viewer, account=viewer)] == ["ANOTHER", "PERSONAL"]
    assert selectors.account_secret_get(actor=root, account=viewer, name="PERSONAL").name == "PERSONAL"
    team_admin = AccountFactory(role=Role.VIEWER, default_namespace=foreign)
    MembershipFactory(account=team_admin, namespace=team, role=Role.ADMIN)
    assert selectors.account_secret_list(actor=team_admin, account=viewer).count() == 2
    with pytest.raises(NotFound):
        selectors.account_secret_get(actor=viewer, account=viewer, name="MISSING")
    with pytest.raises(NotFound):
        selectors.account_secret_get(actor=viewer, account=viewer, name="TEAM_TOKEN")  # a namespace credential


def test_account_secrets_are_404_to_everyone_else(world):
    team, foreign, viewer, _, _ = world
    editor_of_team = AccountFactory(role=Role.EDITOR, default_namespace=team)
    admin_elsewhere = AccountFactory(role=Role.VIEWER, default_namespace=foreign)
    MembershipFactory(account=admin_elsewhere, namespace=foreign, role=Role.ADMIN)
    for stranger in (editor_of_team, admin_elsewhere):
        with pytest.raises(NotFound):
            selectors.account_secret_list(actor=stranger, account=viewer)
        with pytest.raises(NotFound):
            selectors.account_secret_get(actor=stranger, account=viewer, name="PERSONAL")
    MembershipFactory(account=viewer, namespace=foreign, role=Role.VIEWER)
    team_admin = AccountFactory(role=Role.VIEWER, default_namespace=team)
    MembershipFactory(account=team_admin, namespace=team, role=Role.ADMIN)
    with pytest.raises(NotFound):  # the owner also has a role in `foreign`, which team's admin does not administer
        selectors.account_secret_list(actor=team_admin, account=viewer)


def test_secret_values_too_short_to_mask_are_refused(db):
    from accounts.roles import Role
    from core.errors import ValidationFailed
    from tests.factories import AccountFactory
    from vault.services import secret_set

    root = AccountFactory(role=Role.ADMIN)
    with pytest.raises(ValidationFailed):
        secret_set(actor=root, name="PIN", value="42", namespace=root.default_namespace)
    assert secret_set(actor=root, name="PIN", value="4242", namespace=root.default_namespace).name == "PIN"
