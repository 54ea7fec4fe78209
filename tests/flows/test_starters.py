"""Every starter blueprint validates and saves as a flow of its own format."""

import pytest

from accounts.roles import Role
from flows.services import flow_create, flow_validate
from flows.starters import FORMATS, TITLES, all_starters, starter_get

pytestmark = pytest.mark.django_db


def test_every_format_has_every_blueprint() -> None:
    keys = {starter.key for starter in all_starters()}
    assert keys == {f"{kind}/{slug}" for kind in FORMATS for slug in TITLES}
    assert starter_get("tasks/hello").title == "Hello world"
    assert starter_get("tasks/../settings") is None
    assert starter_get("") is None


@pytest.mark.parametrize("starter", all_starters(), ids=lambda starter: starter.key)
def test_a_starter_validates_and_saves(starter, namespace, make_account) -> None:
    assert flow_validate(source=starter.source) == []
    assert flow_validate(source=starter.source, namespace=namespace) == []
    flow = flow_create(actor=make_account(Role.EDITOR), namespace=namespace, source=starter.source)
    assert (flow.format, flow.name) == (starter.format, starter.name)
    assert starter.description and flow.description == starter.description
