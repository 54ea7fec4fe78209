"""Every console page is readable in the light and the dark colour scheme: each page the sidebar
links, and the pages of a flow (its graph with a `flow.if`), an execution, an agent and a secret."""

from pathlib import Path

import pytest

from executions.services import execution_start
from flows.services import flow_create
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.helpers import ROOT, outside_playwright, put_cursor, save_screenshot
from tests.browser.readability import low_contrast
from tests.factories import AgentFactory, KeyValueFactory, SecretFactory

GRAPH = (ROOT / "flows" / "examples" / "graph.yaml").read_text()
FAILING = """name: failing
tasks:
  - name: parse
    type: data.json.parse
    properties: {text: "not json"}
"""


def populate(operator, space) -> list[str]:
    """Objects of every kind, and the URLs of their own pages."""
    graph = flow_create(actor=operator, namespace=space, source=GRAPH)
    failing = flow_create(actor=operator, namespace=space, source=FAILING)
    execution_start(actor=operator, flow=graph, inputs={"fail": True})
    failed = execution_start(actor=operator, flow=failing)
    agent = AgentFactory(namespace=space, name="feed", last_error="2026-12-07T04:17:33+00:00 HTTP 404")
    SecretFactory(namespace=space, name="API_TOKEN")
    KeyValueFactory(namespace=space, key="greeting", value="hello")
    return [
        f"/admin/flows/flow/{graph.pk}/change/",
        f"/admin/executions/execution/{failed.pk}/change/",
        f"/admin/flows/agent/{agent.pk}/change/",
        "/admin/vault/secret/add/",
        "/admin/plugins/",
    ]


@pytest.fixture
def pages(make_superuser, make_namespace, settings) -> tuple:
    settings.MILLRACE_ENGINE_EAGER = True
    operator = outside_playwright(make_superuser)
    space = outside_playwright(lambda: make_namespace("production"))
    return operator, outside_playwright(lambda: populate(operator, space))


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_is_readable(browser, server_url, login, pages, scheme) -> None:
    operator, own_pages = pages
    context = browser.new_context(base_url=server_url, viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        login(page, operator)
        sidebar = page.locator("#nav-sidebar a, #content-main .app-list a, #content-related a[href^='/admin/']")
        links = {Path(href).as_posix() + "/" for href in sidebar.evaluate_all("els => els.map(e => e.pathname)")}
        visited = sorted({"/admin/", *links, *own_pages})
        assert len(visited) > 15  # the sidebar's lists are there
        problems = {}
        for url in visited:
            page.goto(url)
            found = low_contrast(page)
            if found:
                problems[url] = found
        assert problems == {}
        page.goto(own_pages[0])
        if_node = page.locator(".mr-flow-graph .mr-control").first
        assert if_node.locator(".mr-type").text_content() == "flow.if"
        save_screenshot(page, f"flow-graph-{scheme}")
        # The editor, highlighted, with the plugin panel and a completion list open.
        put_cursor(page, "type: data.json.parse")
        page.locator(".mr-plugin-panel[data-plugin='data.json.parse']").wait_for()
        page.keyboard.press("Control+Space")
        page.locator(".cm-tooltip-autocomplete").wait_for()
        assert page.locator(".mr-editor .tok-propertyName").count() > 0
        assert low_contrast(page) == []
    finally:
        context.close()
