from types import SimpleNamespace

import pytest

from accounts import selectors
from accounts.roles import Role, at_least, rank
from core.errors import Forbidden, NotFound
from tests.factories import AccountFactory, FlowFactory, MembershipFactory, NamespaceFactory

pytestmark = pytest.mark.django_db


def test_ranks_order_roles_and_user_ranks_as_editor():
    assert rank(Role.VIEWER) < rank(Role.EXECUTOR) < rank(Role.EDITOR) < rank(Role.ADMIN)
    assert rank(Role.USER) == rank(Role.EDITOR)
    assert at_least(Role.USER, Role.EDITOR) and not at_least(Role.USER, Role.ADMIN)
    assert rank(None) == 0


def test_own_role_applies_in_default_namespace_and_memberships_elsewhere():
    home, other, unrelated = NamespaceFactory(), NamespaceFactory(), NamespaceFactory()
    account = AccountFactory(role=Role.EDITOR, default_namespace=home)
    MembershipFactory(account=account, namespace=other, role=Role.VIEWER)
    assert selectors.role_in(account, home) == Role.EDITOR
    assert selectors.role_in(account, other) == Role.VIEWER
    assert selectors.role_in(account, unrelated) is None


def test_membership_higher_than_own_role_wins_in_default_namespace():
    home = NamespaceFactory()
    account = AccountFactory(role=Role.VIEWER, default_namespace=home)
    MembershipFactory(account=account, namespace=home, role=Role.ADMIN)
    assert selectors.role_in(account, home) == Role.ADMIN


def test_global_admin_is_admin_everywhere():
    account = AccountFactory(role=Role.ADMIN)
    assert selectors.role_in(account, NamespaceFactory()) == Role.ADMIN
    assert selectors.namespace_ids_for(account) is None


def test_scope_to_namespaces_filters_by_minimum_role():
    home, other = NamespaceFactory(), NamespaceFactory()
    account = AccountFactory(role=Role.VIEWER, default_namespace=home)
    MembershipFactory(account=account, namespace=other, role=Role.EDITOR)
    mine, editable, foreign = FlowFactory(namespace=home), FlowFactory(namespace=other), FlowFactory()
    from flows.models import Flow

    visible = set(selectors.scope_to_namespaces(Flow.objects.all(), account=account))
    assert visible == {mine, editable}
    assert foreign not in visible
    writable = set(selectors.scope_to_namespaces(Flow.objects.all(), account=account, minimum=Role.EDITOR))
    assert writable == {editable}


def test_ensure_role_is_404_outside_and_403_when_too_low():
    home, foreign = NamespaceFactory(), NamespaceFactory()
    account = AccountFactory(role=Role.VIEWER, default_namespace=home)
    selectors.ensure_role(account, home, Role.VIEWER)
    with pytest.raises(Forbidden):
        selectors.ensure_role(account, home, Role.EXECUTOR)
    with pytest.raises(NotFound):
        selectors.ensure_role(account, foreign, Role.VIEWER)


def test_account_list_shows_administered_namespaces_and_self():
    ns_a, ns_b = NamespaceFactory(), NamespaceFactory()
    ns_admin = AccountFactory(role=Role.VIEWER, default_namespace=ns_b)
    MembershipFactory(account=ns_admin, namespace=ns_a, role=Role.ADMIN)
    in_a = AccountFactory(default_namespace=ns_a)
    member_of_a = AccountFactory(default_namespace=ns_b)
    MembershipFactory(account=member_of_a, namespace=ns_a)
    in_b = AccountFactory(default_namespace=ns_b)
    visible = set(selectors.account_list(account=ns_admin))
    assert visible == {ns_admin, in_a, member_of_a}
    assert in_b not in visible
    with pytest.raises(NotFound):
        selectors.account_get(account=ns_admin, account_id=in_b.id)
    with pytest.raises(NotFound):
        selectors.account_get(account=ns_admin, account_id="not-a-uuid")


def test_namespace_admin_cannot_administer_global_admins():
    ns = NamespaceFactory()
    ns_admin = AccountFactory(role=Role.VIEWER)
    MembershipFactory(account=ns_admin, namespace=ns, role=Role.ADMIN)
    plain = AccountFactory(default_namespace=ns)
    global_admin = AccountFactory(role=Role.ADMIN, default_namespace=ns)
    assert selectors.can_administer(ns_admin, plain)
    assert not selectors.can_administer(ns_admin, global_admin)


def _created(account, namespace):
    """A row shaped like an execution for `creator_role`, without the executions app."""
    return SimpleNamespace(created_by=account, namespace_id=namespace.pk)


def test_role_from_annotation_applies_default_namespace_and_global_admin_rule():
    home, other = NamespaceFactory(), NamespaceFactory()
    editor = AccountFactory(role=Role.EDITOR, default_namespace=home)
    assert selectors.role_from_annotation(editor, home.pk, None) == Role.EDITOR
    assert selectors.role_from_annotation(editor, home.pk, Role.ADMIN) == Role.ADMIN
    assert selectors.role_from_annotation(editor, home.pk, Role.VIEWER) == Role.EDITOR
    assert selectors.role_from_annotation(editor, other.pk, Role.VIEWER) == Role.VIEWER
    assert selectors.role_from_annotation(editor, other.pk, None) is None
    global_admin = AccountFactory(role=Role.ADMIN, default_namespace=home)
    assert selectors.role_from_annotation(global_admin, other.pk, None) == Role.ADMIN
    assert selectors.role_from_annotation(None, home.pk, Role.ADMIN) is None


def test_annotate_creator_role_reads_the_membership_in_the_rows_namespace():
    home, other = NamespaceFactory(), NamespaceFactory()
    creator = AccountFactory(role=Role.VIEWER, default_namespace=home)
    MembershipFactory(account=creator, namespace=other, role=Role.EDITOR)
    in_other, in_home = (
        FlowFactory(namespace=other, created_by=creator),
        FlowFactory(namespace=home, created_by=creator),
    )
    from flows.models import Flow

    rows = {flow.pk: flow for flow in selectors.annotate_creator_role(Flow.objects.select_related("created_by"))}
    assert getattr(rows[in_other.pk], selectors.CREATOR_ROLE_ATTR) == Role.EDITOR
    assert getattr(rows[in_home.pk], selectors.CREATOR_ROLE_ATTR) is None
    assert selectors.creator_role(rows[in_other.pk]) == Role.EDITOR
    assert selectors.creator_role(rows[in_home.pk]) == Role.VIEWER  # own role in its default namespace


def test_creator_role_without_annotation_asks_role_in():
    home, other = NamespaceFactory(), NamespaceFactory()
    creator = AccountFactory(role=Role.EXECUTOR, default_namespace=home)
    assert selectors.creator_role(_created(creator, home)) == Role.EXECUTOR
    assert selectors.creator_role(_created(creator, other)) is None
    assert selectors.creator_role(_created(AccountFactory(role=Role.ADMIN), other)) == Role.ADMIN
    assert selectors.creator_role(_created(None, home)) is None


def test_namespace_members_by_default_namespace_and_membership_higher_wins():
    team, elsewhere = NamespaceFactory(), NamespaceFactory()
    lead = AccountFactory(username="a-lead", role=Role.VIEWER, default_namespace=team)
    MembershipFactory(account=lead, namespace=team, role=Role.ADMIN)
    stays = AccountFactory(username="b-stays", role=Role.EDITOR, default_namespace=team)
    MembershipFactory(account=stays, namespace=team, role=Role.VIEWER)
    guest = AccountFactory(username="c-guest", default_namespace=elsewhere)
    MembershipFactory(account=guest, namespace=team, role=Role.EXECUTOR)
    AccountFactory(username="d-outsider", default_namespace=elsewhere)

    members = selectors.namespace_members(account=lead, namespace=team)
    assert [(m.username, m.role, m.source) for m in members] == [
        ("a-lead", Role.ADMIN, "membership"),
        ("b-stays", Role.EDITOR, "default"),
        ("c-guest", Role.EXECUTOR, "membership"),
    ]
    assert members[0].account_id == lead.pk


def test_namespace_members_is_404_for_a_namespace_the_caller_cannot_read():
    team = NamespaceFactory()
    outsider = AccountFactory(default_namespace=NamespaceFactory())
    with pytest.raises(NotFound):
        selectors.namespace_members(account=outsider, namespace=team)


def test_role_from_annotation_agrees_with_role_in_on_a_rank_tie():
    home = NamespaceFactory()
    account = AccountFactory(role=Role.EDITOR, default_namespace=home)
    MembershipFactory(account=account, namespace=home, role=Role.USER)
    assert selectors.role_in(account, home) == Role.EDITOR
    assert selectors.role_from_annotation(account, home.id, Role.USER) == Role.EDITOR
    assert selectors.role_from_annotation(account, home.id, Role.ADMIN) == Role.ADMIN
    assert selectors.role_from_annotation(account, NamespaceFactory().id, None) is None


def test_can_administer_needs_admin_wherever_the_target_holds_a_role():
    team_a, team_b = NamespaceFactory(), NamespaceFactory()
    a_admin = AccountFactory(role=Role.VIEWER, default_namespace=team_a)
    MembershipFactory(account=a_admin, namespace=team_a, role=Role.ADMIN)
    member_elsewhere = AccountFactory(default_namespace=team_a)
    MembershipFactory(account=member_elsewhere, namespace=team_b, role=Role.ADMIN)
    only_by_membership = AccountFactory(default_namespace=None)
    MembershipFactory(account=only_by_membership, namespace=team_a, role=Role.EDITOR)
    nowhere = AccountFactory(default_namespace=None)
    assert not selectors.can_administer(a_admin, member_elsewhere)
    assert selectors.can_administer(a_admin, only_by_membership)
    assert not selectors.can_administer(a_admin, nowhere)
    root = AccountFactory(role=Role.ADMIN)
    assert selectors.can_administer(root, member_elsewhere) and selectors.can_administer(root, nowhere)


def test_the_consoles_administered_accounts_filter_matches_can_administer():
    """The admin's token pickers and lists filter with `administered_accounts`; it must agree with the rule."""
    from accounts.admin import administered_accounts
    from accounts.models import Account

    team_a, team_b = NamespaceFactory(), NamespaceFactory()
    a_admin = AccountFactory(role=Role.VIEWER, default_namespace=team_a)
    MembershipFactory(account=a_admin, namespace=team_a, role=Role.ADMIN)
    admin_of_b = AccountFactory(default_namespace=team_a)
    MembershipFactory(account=admin_of_b, namespace=team_b, role=Role.ADMIN)
    viewer_of_b = AccountFactory(default_namespace=team_a)
    MembershipFactory(account=viewer_of_b, namespace=team_b, role=Role.VIEWER)
    by_membership = AccountFactory(default_namespace=None)
    MembershipFactory(account=by_membership, namespace=team_a, role=Role.EDITOR)
    twice_in_a = AccountFactory(default_namespace=team_a)
    MembershipFactory(account=twice_in_a, namespace=team_a, role=Role.EXECUTOR)
    AccountFactory(default_namespace=team_a, role=Role.ADMIN)
    AccountFactory(default_namespace=team_a, is_superuser=True)
    AccountFactory(default_namespace=None)
    AccountFactory(default_namespace=team_b)
    plain = AccountFactory(default_namespace=team_a)
    filtered = set(Account.objects.filter(administered_accounts(a_admin)).exclude(pk=a_admin.pk))
    expected = {t for t in Account.objects.exclude(pk=a_admin.pk) if selectors.can_administer(a_admin, t)}
    assert filtered == expected == {by_membership, twice_in_a, plain}
