"""The dashboard at several widths: the status cards fill their rows (TIMED_OUT never wraps onto
a row of its own), and an agent's error reads as text with its time apart."""

import pytest
from django.utils import timezone

from tests.browser.helpers import outside_playwright, save_screenshot
from tests.factories import AgentFactory

STAMPED = "2026-12-07T04:17:33.934336+00:00 Cannot resolve host 'feeds.example.com'"


@pytest.fixture
def operator(make_superuser, make_namespace):
    space = outside_playwright(lambda: make_namespace("production"))
    outside_playwright(lambda: AgentFactory(namespace=space, name="receiver", last_error=STAMPED, last_run_at=None))
    outside_playwright(
        lambda: AgentFactory(namespace=space, name="poller", last_error="HTTP 404", last_run_at=timezone.now())
    )
    return outside_playwright(make_superuser)


@pytest.mark.parametrize("width", [1600, 1280, 1024, 700])
def test_no_status_card_sits_alone_on_a_row(page, login, operator, width) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    login(page, operator)
    tops = page.locator("#executions-by-status .mr-card").evaluate_all(
        "cards => cards.map(card => Math.round(card.getBoundingClientRect().top))"
    )
    assert len(tops) == 9
    per_row = [tops.count(top) for top in sorted(set(tops))]
    assert min(per_row) >= 3, per_row
    assert page.locator(".mr-card[data-status=TIMED_OUT] .mr-label").inner_text() == "TIMED OUT"
    if width == 1280:
        save_screenshot(page, "dashboard-cards")


def test_agent_errors_start_with_their_text(page, login, operator) -> None:
    login(page, operator)
    rows = page.locator("#failing-agents tbody tr")
    receiver = rows.filter(has_text="receiver")
    assert receiver.locator("td.mr-error").inner_text() == "Cannot resolve host 'feeds.example.com'"
    assert "never" not in receiver.inner_text() and "ago" in receiver.inner_text()
    assert rows.filter(has_text="poller").locator("td.mr-error").inner_text() == "HTTP 404"
