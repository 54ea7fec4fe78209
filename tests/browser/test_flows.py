"""Flows in a real browser: the YAML editor, its problems and graph, Run, revisions, isolation."""

import re
from datetime import timedelta

from executions.models import Execution, ExecutionStatus
from flows.models import Flow
from tests.browser.helpers import (
    click_through,
    outside_playwright,
    put_cursor,
    save_screenshot,
    set_source,
    wait_for_status,
)
from tests.factories import ExecutionFactory, FlowFactory

BROKEN = """name: greeter
description: Greets someone after a short nap.
inputs:
  - id: who
    type: STRING
    defaults: world
tasks:
  - name: nap
    type: util.snooze
    properties:
      seconds: 1
"""

FIXED = """name: greeter
description: Greets someone after a short nap.
inputs:
  - id: who
    type: STRING
    defaults: world
  - id: times
    type: INT
    required: true
tasks:
  - name: nap
    type: util.sleep
    properties:
      seconds: 1
  - name: check
    type: flow.if
    properties:
      condition: "{{ inputs.times > 1 }}"
    then:
      - name: greet-many
        type: util.log
        properties:
          message: "Hello {{ inputs.times }} times, {{ inputs.who }}!"
    else:
      - name: greet-once
        type: util.log
        properties:
          message: "Hello, {{ inputs.who }}!"
errors:
  - name: alert
    type: util.log
    properties:
      message: "greeter failed"
"""


def test_write_fix_run_and_restore_a_flow(page, login, make_superuser, make_namespace) -> None:
    make_namespace("production")
    login(page, make_superuser())

    # A flow with a YAML problem is refused, the problem shown with its line.
    page.goto("/admin/flows/flow/add/")
    page.select_option("#id_namespace", label="production")
    page.fill("#id_name", "greeter")
    set_source(page, BROKEN)
    click_through(page, "input[name=_continue]")
    problems = page.locator(".field-source .errorlist li")
    assert problems.count() >= 1
    assert re.search(r"^line 9: tasks\[0\]\.type: .*util\.snooze", problems.first.inner_text())
    assert page.locator(".mr-gutter .mr-bad").all_inner_texts() == ["9"]
    # The editor checks the YAML again as it loads: the same line is marked and listed.
    page.locator(".mr-live-problems li[data-line='9']").wait_for()
    assert page.locator(".mr-gutter .mr-bad").all_inner_texts() == ["9"]
    assert page.locator(".cm-line", has_text="util.snooze").locator(".cm-lintRange-error").count() == 1
    assert not Flow.objects.filter(name="greeter").exists()

    # Fixed, it saves, and the page shows the graph of what was saved.
    set_source(page, FIXED)
    click_through(page, "input[name=_continue]")
    page.wait_for_url(re.compile(r"/admin/flows/flow/[0-9a-f-]+/change/$"))
    flow = Flow.objects.get(name="greeter")
    graph = page.locator("#flow-graph svg")
    for step in ("nap", "check", "check.greet-many", "check.greet-once", "alert"):
        assert graph.locator(f'[data-step="{step}"]').count() == 1
    assert "on failure" in graph.text_content()
    put_cursor(page, "condition: ")
    page.locator(".mr-plugin-panel[data-plugin='flow.if']").wait_for()
    page.locator(".mr-editor-status.mr-valid").wait_for()
    save_screenshot(page, "flow-editor")

    # Run: the form comes from the declared inputs; a missing required one is reported.
    click_through(page, "a.mr-run-link")
    assert page.input_value("#id_input_who") == "world"
    click_through(page, "input[name=_run]")
    assert "This field is required." in page.locator(".field-input_times").inner_text()
    page.fill("#id_input_times", "3")
    click_through(page, "input[name=_run]")
    page.wait_for_url(re.compile(r"/admin/executions/execution/[0-9a-f-]+/change/$"))
    execution = Execution.objects.get(flow=flow)
    assert str(execution.pk) in page.url
    assert execution.inputs == {"who": "world", "times": 3}
    assert wait_for_status(execution, ExecutionStatus.SUCCESS)[-1] == ExecutionStatus.SUCCESS

    # A second revision, then restore the first from its diff.
    page.goto(f"/admin/flows/flow/{flow.pk}/change/")
    set_source(page, FIXED.replace("greeter failed", "greeter failed badly"))
    click_through(page, "input[name=_continue]")
    page.wait_for_url(re.compile(r"/change/$"))
    click_through(page, "text=Revisions (2)")
    click_through(page, "tr[data-revision='1'] a.mr-compare-current")
    changed = page.locator("#diff tr.mr-changed")
    assert changed.count() == 1
    assert "greeter failed badly" in changed.inner_text()
    click_through(page, "#restore-left")
    page.wait_for_url(re.compile(r"/change/$"))
    assert "Revision 1 restored as revision 3" in page.locator(".messagelist").inner_text()
    assert page.input_value("#id_source") == FIXED
    flow.refresh_from_db()
    assert (flow.revision, flow.source) == (3, FIXED)


def test_a_namespace_admin_cannot_reach_another_namespaces_flow(
    page, login, make_namespace_admin, make_namespace
) -> None:
    mine, theirs = make_namespace("team-a"), make_namespace("team-b")
    own = FlowFactory(namespace=mine, name="a-billing")
    other = FlowFactory(namespace=theirs, name="b-payroll")
    login(page, make_namespace_admin(mine))

    page.goto("/admin/flows/flow/")
    names = page.locator("#result_list tbody th").all_inner_texts()
    assert names == ["a-billing"]

    page.goto("/admin/flows/flow/?q=payroll")
    assert page.locator("#result_list tbody tr").count() == 0
    assert "b-payroll" not in page.content()

    for suffix in ("change/", "revisions/", "run/", "revisions/compare/?a=1&b=1"):
        page.goto(f"/admin/flows/flow/{other.pk}/{suffix}")
        assert page.url.endswith("/admin/"), suffix  # the admin's answer to a missing object
        assert "b-payroll" not in page.content()

    page.goto(f"/admin/flows/flow/{own.pk}/change/")
    assert page.input_value("#id_name") == "a-billing"


def test_a_flows_page_and_the_list_show_its_last_runs(page, login, make_superuser, make_namespace) -> None:
    def populate() -> tuple:
        space = make_namespace("production")
        flow, idle = FlowFactory(namespace=space, name="nightly"), FlowFactory(namespace=space, name="idle")
        statuses = [ExecutionStatus.SUCCESS, ExecutionStatus.FAILED, ExecutionStatus.RUNNING]
        runs = [ExecutionFactory(flow=flow, status=status) for status in statuses]
        ExecutionFactory(flow=FlowFactory(namespace=space, name="other"), status=ExecutionStatus.CANCELLED)
        for age, run in enumerate(reversed(runs)):  # the RUNNING one is the latest
            Execution.objects.filter(pk=run.pk).update(created_at=run.created_at - timedelta(minutes=5 * age))
        return flow, idle, runs

    flow, idle, runs = outside_playwright(populate)
    login(page, outside_playwright(make_superuser))

    page.goto(f"/admin/flows/flow/{flow.pk}/change/")
    badges = page.locator("#flow-runs .mr-recent-runs a.mr-badge")
    assert badges.all_inner_texts() == ["RUNNING", "FAILED", "SUCCESS"]
    assert badges.first.get_attribute("href") == f"/admin/executions/execution/{runs[2].pk}/change/"
    click_through(page, "#flow-runs a.mr-all-runs")
    assert f"flow__id__exact={flow.pk}" in page.url
    assert page.locator("#result_list tbody tr").count() == 3  # not the other flow's run

    page.goto(f"/admin/flows/flow/{idle.pk}/change/")
    assert "has not run yet" in page.locator("#flow-runs").inner_text()

    page.goto("/admin/flows/flow/")
    row = page.locator("#result_list tbody tr", has=page.locator("th", has_text="nightly"))
    assert row.locator("td.field-last_run .mr-badge").inner_text() == "RUNNING"
    assert "just now" in row.locator("td.field-last_run").inner_text()
    idle_row = page.locator("#result_list tbody tr", has=page.locator("th", has_text="idle"))
    assert idle_row.locator("td.field-last_run").inner_text() == "never"
    save_screenshot(page, "flows-list")
