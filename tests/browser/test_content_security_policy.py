"""The Content-Security-Policy breaks no page: the landing page, the API docs (Swagger UI and
Redoc from the sidecar) and the console render, chromium reports no violation, and no page
asks another origin for anything (the docs are served offline, Redoc's logo included)."""

from executions.services import execution_start
from tests.browser.helpers import outside_playwright
from tests.factories import FlowFactory


def violations_while(page, visit) -> list[str]:
    """The CSP violations chromium reports (on the console), and every request to another
    origin or answered 404 (a missing favicon, say), while `visit` runs."""
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    page.on("request", lambda request: messages.append(f"request {request.url}"))
    page.on("response", lambda response: messages.append(f"{response.status} {response.url}"))
    visit()
    page.wait_for_timeout(300)  # late reports of scripts run after load
    here = page.context.pages[0].url.split("/")[2]
    return [
        text
        for text in messages
        if "Content Security Policy" in text
        or (text.startswith("request ") and text.split("/")[2] != here)
        or text.startswith("404 ")
    ]


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
        page.locator(".mr-editor .cm-editor").first.wait_for()  # drawn by millrace/editor.js (CodeMirror)
        page.locator(".mr-editor-status.mr-valid").wait_for()  # checked by the validate view as it loads
        page.goto(f"/admin/executions/execution/{execution.pk}/change/")
        page.locator("#live-state[data-state=ended]").wait_for()  # followed by execution_live.js
        page.goto("/admin/accounts/apitoken/")

    assert violations_while(page, visit) == []
