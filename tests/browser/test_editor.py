"""The flow editor in a real browser: CodeMirror's highlighting, validation as you type,
completion from the plugin catalog, the documentation panel and the starter blueprints."""

import re

from flows.models import Flow
from flows.starters import all_starters, starter_get
from tests.browser.helpers import click_through, outside_playwright, put_cursor, save_screenshot, set_source

SOURCE = """name: fetcher
description: Fetches a page and logs it.
tasks:
  - name: fetch
    type: http.request
    properties:
      url: https://example.com/
  - name: say
    type: util.log
    properties:
      message: "got {{ outputs.fetch.status_code }}"
"""


def open_editor(page, login, make_superuser, make_namespace) -> None:
    outside_playwright(lambda: make_namespace("production"))
    login(page, outside_playwright(make_superuser))
    page.goto("/admin/flows/flow/add/")
    page.select_option("#id_namespace", label="production")
    page.locator(".mr-editor .cm-editor").wait_for()


def test_yaml_is_highlighted_and_checked_as_you_type(page, login, make_superuser, make_namespace) -> None:
    open_editor(page, login, make_superuser, make_namespace)
    assert page.locator("#id_source.mr-editor-field").count() == 1  # still the form's field, behind the editor
    page.fill("#id_source", "name: filled\n")  # what is put into the field goes into the editor
    assert page.evaluate("document.querySelector('#id_source').mrEditor.state.doc.toString()") == "name: filled\n"
    set_source(page, SOURCE)
    page.locator(".mr-editor-status.mr-valid").wait_for()
    assert page.locator(".cm-content .tok-propertyName", has_text="tasks").count() == 1
    assert page.locator(".cm-content .tok-string").count() >= 1
    assert page.locator(".mr-live-problems li").count() == 0

    # A plugin type that does not exist: marked on its line (5) once typing stops.
    put_cursor(page, "http.request")
    page.keyboard.press("Backspace")
    page.keyboard.type("x")
    # on a slow machine the pause between the two keys may let "http.reques" be checked first
    problem = page.locator(".mr-live-problems li[data-line='5']", has_text="http.requesx")
    problem.wait_for()
    assert page.locator(".mr-live-problems li").count() == 1
    assert page.locator(".cm-line", has_text="http.requesx").locator(".cm-lintRange-error").count() == 1
    assert page.locator(".cm-gutter-lint .cm-lint-marker-error").count() == 1
    assert page.locator(".mr-editor-status").inner_text() == "1 problem"
    assert page.locator(".mr-gutter .mr-bad").all_inner_texts() == ["5"]

    # Fixed, the problem goes; the textarea the form posts follows the editor.
    page.keyboard.press("Backspace")
    page.keyboard.type("t")
    page.locator(".mr-editor-status.mr-valid").wait_for()
    assert page.locator(".mr-live-problems li").count() == 0
    assert page.locator(".mr-gutter .mr-bad").count() == 0
    assert page.input_value("#id_source") == SOURCE


def test_completion_offers_plugin_types_and_their_properties(page, login, make_superuser, make_namespace) -> None:
    open_editor(page, login, make_superuser, make_namespace)
    set_source(page, "name: fresh\ntasks:\n  - name: say\n    type: \n")
    put_cursor(page, "type: ")
    page.keyboard.type("util.l")
    options = page.locator(".cm-tooltip-autocomplete li .cm-completionLabel")
    options.first.wait_for()
    assert options.all_inner_texts()[0] == "util.log"
    save_screenshot(page, "flow-editor-completion")
    options.first.click()
    assert "    type: util.log" in page.input_value("#id_source")

    # Under `properties:`, the plugin's own properties (the required one first).
    set_source(page, "name: fresh\ntasks:\n  - name: say\n    type: util.log\n    properties:\n      \n")
    put_cursor(page, "properties:\n      ")
    page.keyboard.press("Control+Space")
    options.first.wait_for()
    labels = options.all_inner_texts()
    assert labels[0] == "message" and "level" in labels
    options.first.click()
    assert "      message: " in page.input_value("#id_source")

    # Kestra's type names, and their properties beside `type:`.
    set_source(page, "id: fresh\nnamespace: company\ntasks:\n  - id: say\n    type: \n")
    put_cursor(page, "type: ")
    page.keyboard.type("io.kestra.plugin.core.log.L")
    options.first.wait_for()
    assert options.all_inner_texts()[0] == "io.kestra.plugin.core.log.Log"
    options.first.click()
    page.keyboard.press("Enter")
    page.keyboard.type("mess")
    options.first.wait_for()
    assert options.all_inner_texts()[0] == "message"


def test_the_panel_documents_the_plugin_under_the_cursor(page, login, make_superuser, make_namespace) -> None:
    open_editor(page, login, make_superuser, make_namespace)
    panel = page.locator(".mr-plugin-panel")
    set_source(page, SOURCE)
    put_cursor(page, "url: https")
    page.locator(".mr-plugin-panel[data-plugin='http.request']").wait_for()
    assert "http.request" in panel.locator("h3").inner_text()
    assert panel.locator(".mr-plugin-doc-text p").count() >= 1
    assert "type: http.request" in panel.locator("pre.mr-plugin-example").inner_text()
    assert panel.locator("dt code", has_text="url").count() == 1
    href = panel.locator("a", has_text="plugin reference").get_attribute("href")
    assert href == "/admin/plugins/#plugin-http-request"

    put_cursor(page, "message: ")
    page.locator(".mr-plugin-panel[data-plugin='util.log']").wait_for()
    put_cursor(page, "description:")
    page.locator(".mr-plugin-panel[data-plugin='']").wait_for()
    assert "Put the cursor in a task" in panel.inner_text()


def test_a_new_flow_starts_from_a_starter(page, login, make_superuser, make_namespace) -> None:
    open_editor(page, login, make_superuser, make_namespace)
    offered = page.locator("#flow-starters a[data-starter]")
    assert sorted(offered.evaluate_all("links => links.map(a => a.dataset.starter)")) == sorted(
        starter.key for starter in all_starters()
    )

    click_through(page, "#flow-starters a[data-starter='kestra/http-if']")
    starter = starter_get("kestra/http-if")
    assert page.input_value("#id_source") == starter.source
    assert page.input_value("#id_name") == "check-site"
    assert "uri:" in page.locator(".cm-content").inner_text()
    page.locator(".mr-editor-status.mr-valid").wait_for()
    put_cursor(page, "uri: ")
    page.locator(".mr-plugin-panel[data-plugin='http.request']").wait_for()
    save_screenshot(page, "flow-templates")
    page.select_option("#id_namespace", label="production")
    click_through(page, "input[name=_continue]")
    page.wait_for_url(re.compile(r"/admin/flows/flow/[0-9a-f-]+/change/$"))
    flow = outside_playwright(lambda: Flow.objects.get(name="check-site"))
    assert (flow.format, flow.source) == ("kestra", starter.source)
