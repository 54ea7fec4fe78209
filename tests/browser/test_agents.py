"""Agents in a browser: a manual message travels down a chain, "run now" emits, the workflow
graph links to its agents, and an exported workflow is imported again from the console."""

import json

import pytest

from accounts.roles import Role
from agents import services
from flows.models import Agent, AgentLink
from tests.browser.helpers import outside_playwright, save_screenshot
from tests.factories import AccountFactory, FlowFactory, MembershipFactory


@pytest.fixture
def newsroom(make_namespace):
    """An editor and a workflow of four agents, written before the server starts."""
    space, copies = make_namespace("newsroom"), make_namespace("newsroom-copy")
    editor = AccountFactory(username="news-editor", role=Role.EDITOR, default_namespace=space)
    MembershipFactory(account=editor, namespace=copies, role=Role.EDITOR)
    flow = FlowFactory(namespace=space, name="headlines", source="name: headlines\ntasks: []\n")

    def make(name: str, type: str, options: dict | None = None, sources: tuple = (), **extra) -> Agent:
        return services.agent_create(
            actor=editor, namespace=space, name=name, type=type, options=options or {},
            source_ids=[source.pk for source in sources], workflow_ids=[flow.pk], **extra,
        )  # fmt: skip

    inbox = make("tips inbox", "Agents::ManualEventAgent")
    ticker = make("wire ticker", "util.echo", {"value": {"headline": "Markets open"}}, schedule="every_1h")
    urgent = make(
        "urgent filter",
        "Agents::TriggerAgent",
        {"rules": [{"type": "field==value", "path": "urgent", "value": "yes"}], "keep_event": True},
        sources=(inbox, ticker),
    )
    make("formatter", "Agents::EventFormattingAgent", {"instructions": {"text": "URGENT: {{ message.headline }}"}},
         sources=(urgent,))  # fmt: skip
    return editor, copies


def agent_page(page, name: str) -> None:
    pk = outside_playwright(lambda: Agent.objects.get(name=name, namespace__name="newsroom").pk)
    page.goto(f"/admin/flows/agent/{pk}/change/")


def test_a_manual_message_travels_down_the_chain(newsroom, page, login):
    editor, _ = newsroom
    login(page, editor)
    agent_page(page, "tips inbox")

    page.fill("#manual-payload", json.dumps({"headline": "Bridge closed", "urgent": "yes"}))
    page.click(".send-message-button")

    assert "Sent message" in page.locator(".messagelist").inner_text()
    assert "Bridge closed" in page.locator(".agent-messages").inner_text()
    agent_page(page, "formatter")
    assert "URGENT: Bridge closed" in page.locator(".agent-messages").inner_text()
    assert "urgent filter" in page.locator(".agent-links").inner_text()


def test_run_now_emits_from_the_agents_page(newsroom, page, login):
    editor, _ = newsroom
    login(page, editor)
    agent_page(page, "wire ticker")

    page.click(".run-now-button")

    assert "Queued a run of wire ticker." in page.locator(".messagelist").inner_text()
    assert "Markets open" in page.locator(".agent-messages").inner_text()
    assert "Ran; emitted 1 message." in page.locator(".agent-logs").inner_text()

    page.click(".clear-logs-button")

    assert "Cleared 1 log lines of wire ticker." in page.locator(".messagelist").inner_text()
    assert "No log lines yet." in page.locator(".agent-logs").inner_text()


def test_the_graph_links_to_the_agents_and_an_export_imports_again(newsroom, page, login, tmp_path):
    editor, copies = newsroom
    login(page, editor)
    page.goto("/admin/flows/agent/")
    page.click("text=Workflows and graphs")
    page.click("text=headlines")
    page.wait_for_url("**/graph/")  # count() does not wait for the navigation

    assert page.locator("svg.agent-graph-svg .ag-node").count() == 4
    assert page.locator("svg.agent-graph-svg path.ag-edge").count() == 3
    save_screenshot(page, "agent-graph")
    with page.expect_download() as download:
        page.click("text=Export")
    exported = tmp_path / "headlines.json"
    download.value.save_as(exported)
    page.locator("svg.agent-graph-svg a", has_text="urgent filter").click()
    page.wait_for_url("**/change/")
    assert page.locator("#id_name").input_value() == "urgent filter"

    page.goto("/admin/flows/agent/import/")
    page.select_option("#id_namespace", label="newsroom-copy")
    page.set_input_files("#id_file", str(exported))
    page.fill("#id_name", "headlines (copy)")
    page.click("#import-form input[type=submit]")

    page.wait_for_url("**/graph/")
    assert "Imported headlines (copy) with 4 agent(s) into newsroom-copy." in page.locator(".messagelist").inner_text()
    assert page.locator("svg.agent-graph-svg .ag-node").count() == 4
    copied = outside_playwright(lambda: list(AgentLink.objects.filter(receiver__namespace=copies)))
    assert len(copied) == 3
