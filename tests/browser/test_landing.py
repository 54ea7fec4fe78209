"""`/` is a landing page, and the console's "View site" leads to it: links to the console, the
API docs of each dialect and health, with the favicon (no 404 on the way)."""

from api.docs import DOCUMENTED
from tests.browser.helpers import click_through, outside_playwright, save_screenshot


def test_view_site_leads_to_the_landing_page(page, login, make_superuser, server_url) -> None:
    failed: list[str] = []
    page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)
    login(page, outside_playwright(make_superuser))
    click_through(page, "#user-tools a:has-text('View site')")
    assert page.url == f"{server_url}/"
    assert page.locator("h1").inner_text() == "Millrace"
    for slug in DOCUMENTED:
        assert page.locator(f"a[href='/api/redoc/{slug}/']").count() == 1
    assert page.locator("link[rel=icon]").get_attribute("href") == "/static/millrace/favicon.svg"
    save_screenshot(page, "landing")
    click_through(page, "a:has-text('Operator console')")
    assert page.url.endswith("/admin/")
    assert page.goto("/healthz").status == 200
    assert failed == []
