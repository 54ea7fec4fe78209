"""The Convert page in a real browser: a Kestra flow shown as a task list and a graph."""

from pathlib import Path

import yaml

from flows.services import flow_create
from tests.browser.helpers import click_through, save_screenshot

HELLO = Path(__file__).resolve().parents[2] / "flows" / "examples" / "kestra" / "hello-world.yaml"


def test_convert_a_kestra_flow_from_its_page(page, login, make_superuser, make_namespace) -> None:
    namespace = make_namespace("company.team")
    operator = make_superuser()
    flow = flow_create(actor=operator, namespace=namespace, source=HELLO.read_text())
    login(page, operator)

    page.goto(f"/admin/flows/flow/{flow.pk}/change/")
    click_through(page, "a.mr-convert-link")
    assert page.locator("#convert-formats a[aria-current=page]").text_content() == "nodes"
    click_through(page, "#convert-formats a:text-is('tasks')")
    converted = yaml.safe_load(page.locator("#converted").input_value())
    assert converted["name"] == "hello-world"
    assert [task["type"] for task in converted["tasks"]] == ["util.log", "util.echo", "util.log"]
    assert converted["tasks"][0]["properties"]["message"].startswith(
        "Hello {{ inputs.user }}, this is {{ execution.flow }}"
    )
    assert page.locator("#convert-download").get_attribute("href") == "?format=tasks&download=1"
    page.locator(".mr-editor.mr-readonly .tok-propertyName").first.wait_for()  # highlighted, read-only
    save_screenshot(page, "flow-convert")

    click_through(page, "#convert-formats a:text-is('kestra')")
    assert "io.kestra.plugin.core.debug.Return" in page.locator("#converted").input_value()
