"""The Content-Security-Policy breaks no page: the landing page, the API docs (Swagger UI and
Redoc from the sidecar) and the console render, and chromium reports no violation."""

from executions.services import execution_start
from tests.browser.helpers import outside_playwright
from tests.factories import FlowFactory

#: Redoc's "API docs by Redocly" badge is an image on Redocly's CDN: the policy blocks it on
#: purpose (the docs are served offline); the page works without it.
EXPECTED = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def violations_while(page, visit) -> list[str]:
    """The CSP violations chromium reports (on the console) while `visit` runs."""
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    visit()
    page.wait_for_timeout(300)  # late reports of scripts run after load
    return [text for text in messages if "Content Security Policy" in text and EXPECTED not in text]


def test_landing_page_and_api_docs_render_under_the_policy(page) -> None:
    def visit() -> None:
        response = page.goto("/")
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.get_by_role("link", name="Operator console").wait_for()
        page.goto("/api/docs/")
        for slug in ("flowrunner", "connector"):
            response = page.goto(f"/api/docs/{slug}/")
            assert "content-security-policy" in response.headers
            page.locator(".swagger-ui .info .title").wait_for()  # rendered by the start-up script
            page.locator(".swagger-ui .opblock").first.wait_for()
            response = page.goto(f"/api/redoc/{slug}/")
            assert "content-security-policy" in response.headers
            page.locator(".api-content h1").first.wait_for()  # rendered by Redoc

    assert violations_while(page, visit) == []


def test_console_pages_render_under_the_policy(page, login, make_superuser, make_namespace) -> None:
    space = outside_playwright(lambda: make_namespace("production"))
    operator = outside_playwright(make_superuser)
    flow = outside_playwright(lambda: FlowFactory(namespace=space))
    execution = outside_playwright(lambda: execution_start(actor=operator, flow=flow))

    def visit() -> None:
        login(page, operator)
        response = page.goto("/admin/")
        assert "content-security-policy" in response.headers
        page.goto(f"/admin/flows/flow/{flow.pk}/change/")
        page.locator(".mr-gutter").first.wait_for()  # drawn by millrace/editor.js
        page.goto(f"/admin/executions/execution/{execution.pk}/change/")
        page.locator("#live-state[data-state=ended]").wait_for()  # followed by execution_live.js
        page.goto("/admin/accounts/apitoken/")

    assert violations_while(page, visit) == []
