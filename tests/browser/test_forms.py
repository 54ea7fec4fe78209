"""Console forms as an operator fills them: the agent form's labels sit before their selectors,
and the secret form says what is wrong once, in words, without a raw constraint error."""

import pytest

from tests.browser.helpers import click_through, outside_playwright, save_screenshot
from tests.factories import AgentFactory, FlowFactory


@pytest.fixture
def operator(make_superuser, make_namespace):
    space = outside_playwright(lambda: make_namespace("production"))
    outside_playwright(lambda: FlowFactory(namespace=space, name="nightly-report"))
    agent = outside_playwright(lambda: AgentFactory(namespace=space, name="feed", type="Agents::ManualEventAgent"))
    outside_playwright(lambda: AgentFactory(namespace=space, name="digest", type="Agents::ManualEventAgent"))
    return outside_playwright(make_superuser), agent


@pytest.mark.parametrize("field", ["source_agents", "workflows"])
def test_agent_selectors_have_their_label_before_them(page, login, operator, field) -> None:
    account, agent = operator
    login(page, account)
    page.goto(f"/admin/flows/agent/{agent.pk}/change/")
    row = page.locator(f".form-row.field-{field}")
    label = row.locator(f"label[for=id_{field}]").bounding_box()
    selector = row.locator(".selector").first.bounding_box()
    assert label is not None and selector is not None
    # before it: above it, or on its left
    assert label["y"] + label["height"] <= selector["y"] + 1 or label["x"] + label["width"] <= selector["x"] + 1
    if field == "workflows":
        row.scroll_into_view_if_needed()
        save_screenshot(page, "agent-form")


def test_a_secret_without_an_owner_gets_one_friendly_error(page, login, operator) -> None:
    account, _ = operator
    login(page, account)
    page.goto("/admin/vault/secret/add/")
    page.fill("#id_name", "API_TOKEN")
    page.fill("#id_value", "a-long-enough-value")
    click_through(page, "input[name=_save]")
    errors = page.locator(".errornote, .errorlist").all_inner_texts()
    text = " ".join(errors)
    assert "Choose exactly one owner: a namespace or an account." in text
    assert "Constraint" not in text and "secret_exactly_one_owner" not in text
    assert text.count("Choose exactly one owner") == 1


def test_flow_tags_are_a_comma_separated_text_field(page, login, make_superuser, make_namespace) -> None:
    space = outside_playwright(lambda: make_namespace("reports"))
    flow = outside_playwright(lambda: FlowFactory(namespace=space, name="weekly", tags=["reports", "weekly"]))
    login(page, outside_playwright(make_superuser))
    page.goto(f"/admin/flows/flow/{flow.pk}/change/")
    field = page.locator("input#id_tags")
    assert field.get_attribute("type") == "text" and field.input_value() == "reports, weekly"
    field.fill("reports, weekly, finance")
    field.scroll_into_view_if_needed()
    save_screenshot(page, "flow-tags")
    click_through(page, "input[name=_continue]")
    outside_playwright(flow.refresh_from_db)
    assert flow.tags == ["reports", "weekly", "finance"]
