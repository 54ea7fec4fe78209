"""The execution page in a browser: it follows a run live to SUCCESS without a reload (its
timeline and its flow graph, steps not started greyed), an approval gate is decided from it, its
logs filter by level and step, "Run again" and previous/next."""

from accounts.models import Account
from accounts.roles import Role
from executions.models import Execution, ExecutionStatus
from executions.services import approval_decide, execution_start
from flows.services import flow_create
from tests.browser.helpers import outside_playwright, save_screenshot, wait_for_status
from tests.factories import AccountFactory

E = ExecutionStatus

PIPELINE = """name: nightly-report
inputs:
  - name: region
    type: STRING
    defaults: eu-west
tasks:
  - name: announce
    type: util.log
    properties:
      message: "Building the report for {{ inputs.region }}"
  - name: collect
    type: util.echo
    properties:
      value: {region: "{{ inputs.region }}", rows: 1280}
  - name: settle
    type: util.sleep
    properties:
      seconds: 3
  - name: publish
    type: util.echo
    properties:
      value: "published {{ outputs.collect.rows }} rows"
  - name: done
    type: util.log
    properties:
      message: "Report for {{ inputs.region }} is out"
"""
GATED = """name: release
tasks:
  - name: build
    type: util.echo
    properties:
      value: artefact-42
  - name: sign-off
    type: flow.pause
  - name: ship
    type: util.echo
    properties:
      value: "shipped {{ outputs.build }}"
"""
QUICK = """name: quick
inputs:
  - name: region
    type: STRING
    defaults: eu-west
tasks:
  - name: hello
    type: util.log
    properties:
      message: "Hello from {{ inputs.region }}"
"""
FAILING_LATE = """name: failing-late
tasks:
  - name: announce
    type: util.log
    properties:
      message: "Building the report"
  - name: caution
    type: util.log
    properties:
      message: "The source file is 3 days old"
      level: warn
  - name: parse
    type: data.json.parse
    properties:
      text: "not json"
"""


def run(operator, namespace, source: str) -> Execution:
    """Save and start a flow on the server's database thread (see `helpers.outside_playwright`)."""
    flow = outside_playwright(lambda: flow_create(actor=operator, namespace=namespace, source=source))
    return outside_playwright(lambda: execution_start(actor=operator, flow=flow))


def account(username: str, role: str, namespace) -> Account:
    return outside_playwright(lambda: AccountFactory(username=username, role=role, default_namespace=namespace))


def status_text(page) -> str:
    return page.locator("#execution-status").inner_text().strip()


def test_the_page_follows_a_run_live_to_success(page, login, make_namespace):
    space = outside_playwright(lambda: make_namespace("reports"))
    operator = account("operator", Role.EDITOR, space)
    login(page, operator)
    execution = run(operator, space, PIPELINE)

    page.goto(f"/admin/executions/execution/{execution.pk}/change/")
    page.evaluate("window.__notReloaded = true")
    first = status_text(page)
    page.locator("#live-state[data-state=live]").wait_for()

    page.locator("#execution-status", has_text="SUCCESS").wait_for(timeout=20_000)

    assert first in (E.QUEUED, E.RUNNING, E.WAITING)
    assert page.evaluate("window.__notReloaded") is True  # updated in place, not reloaded
    rows = page.locator("tr.task-row")
    assert rows.count() == 5
    assert page.locator("tr.task-row.status-success").count() == 5
    assert page.locator("tr.task-row[data-step=settle] .bar.status-success").is_visible()
    assert page.locator(".execution-logs").get_by_text("Report for eu-west is out").is_visible()
    page.locator("#live-state[data-state=ended]").wait_for()
    collect = outside_playwright(lambda: execution.task_runs.get(name="collect"))
    page.locator(f"details#task-{collect.pk} summary").click()
    save_screenshot(page, "execution-timeline")


def test_an_approval_gate_is_decided_from_the_page(page, login, make_namespace):
    space = outside_playwright(lambda: make_namespace("releases"))
    approver = account("approver", Role.EDITOR, space)
    login(page, approver)
    execution = run(approver, space, GATED)
    page.goto(f"/admin/executions/execution/{execution.pk}/change/")
    page.locator("#execution-status", has_text="WAITING").wait_for()

    page.fill(".approval-form input[name=comment]", "signed off in the browser")
    page.click(".approval-form .approve-button")

    page.locator("#execution-status", has_text="SUCCESS").wait_for()
    assert page.locator(".messagelist").get_by_text("Approved.").is_visible()
    assert page.locator(".execution-approvals").get_by_text("signed off in the browser").is_visible()
    assert page.locator(".approval-form").count() == 0
    outside_playwright(execution.refresh_from_db)
    assert execution.status == E.SUCCESS
    assert outside_playwright(lambda: execution.task_runs.get(name="ship").outputs) == "shipped artefact-42"


def test_a_viewer_gets_no_controls_and_sees_the_run_end(page, login, make_namespace):
    space = outside_playwright(lambda: make_namespace("watched"))
    operator = account("runner", Role.EDITOR, space)
    viewer = account("watcher", Role.VIEWER, space)
    execution = run(operator, space, GATED)
    login(page, viewer)
    page.goto(f"/admin/executions/execution/{execution.pk}/change/")
    page.locator("#live-state[data-state=live]").wait_for()

    assert page.locator(".execution-controls").count() == 0
    assert page.locator(".approval-form").count() == 0
    approval = outside_playwright(execution.approvals.get)
    outside_playwright(lambda: approval_decide(actor=operator, approval=approval, approve=True))
    page.locator("#execution-status", has_text="SUCCESS").wait_for()


def node(page, step: str):
    return page.locator(f"#execution-graph .mr-node[data-step='{step}']")


def fills(page) -> dict[str, str]:
    """Each step's box colour, read at one moment (a live refresh may replace the graph)."""
    return page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll("#execution-graph .mr-node"),
            (node) => [node.dataset.step, getComputedStyle(node.querySelector("rect")).fill]))"""
    )


def test_the_graph_colours_each_step_live_and_greys_those_not_started(page, login, make_namespace):
    space = outside_playwright(lambda: make_namespace("graphs"))
    operator = account("grapher", Role.EDITOR, space)
    login(page, operator)
    execution = run(operator, space, PIPELINE)

    page.goto(f"/admin/executions/execution/{execution.pk}/change/")
    page.evaluate("window.__notReloaded = true")
    page.locator("#live-state[data-state=live]").wait_for()
    node(page, "settle").and_(page.locator("[data-state=waiting], [data-state=running]")).wait_for()
    before = fills(page)
    assert node(page, "collect").get_attribute("data-state") == "success"
    assert node(page, "publish").get_attribute("data-state") == "not-started"  # shown, greyed
    assert node(page, "publish").is_visible() and node(page, "done").is_visible()
    save_screenshot(page, "execution-graph")

    node(page, "publish").and_(page.locator("[data-state=success]")).wait_for(timeout=20_000)
    page.locator("#live-state[data-state=ended]").wait_for()  # the last refresh is done

    assert page.evaluate("window.__notReloaded") is True
    assert node(page, "settle").get_attribute("data-state") == "success"
    after = fills(page)
    assert before["publish"] == before["done"] != before["collect"]  # greyed, not yet coloured
    assert after["settle"] == after["collect"] == after["publish"] != before["settle"]
    assert after["publish"] != before["publish"]
    assert page.locator("#execution-graph [data-state=not-started]").count() == 0


def visible_rows(page) -> list[str]:
    rows = page.locator(".execution-logs tr.log-row:visible")
    return [" ".join(text.split()) for text in rows.all_inner_texts()]


def test_the_logs_filter_by_level_and_step_and_hide_state_changes(page, login, make_namespace):
    space = outside_playwright(lambda: make_namespace("logs"))
    operator = account("reader", Role.EDITOR, space)
    login(page, operator)
    execution = run(operator, space, FAILING_LATE)
    wait_for_status(execution, E.FAILED)

    page.goto(f"/admin/executions/execution/{execution.pk}/change/")
    shown = visible_rows(page)
    assert any("Building the report" in row for row in shown)
    assert not any("task_status" in row or "execution_status" in row for row in shown)  # hidden by default

    page.check("#log-lifecycle")
    assert any("task_status" in row for row in visible_rows(page))
    page.uncheck("#log-lifecycle")

    page.select_option("#log-step", "announce")
    assert visible_rows(page) and all("announce" in row for row in visible_rows(page))
    page.select_option("#log-step", "")
    page.check("#log-lifecycle")
    page.select_option("#log-level", "warn")
    warnings = visible_rows(page)
    assert any("3 days old" in row for row in warnings)
    assert not any("Building the report" in row for row in warnings)
    page.select_option("#log-level", "error")
    errors = visible_rows(page)
    assert errors and all(" error " in f" {row} " for row in errors)
    assert not any("3 days old" in row for row in errors)
    page.select_option("#log-level", "debug")
    assert len(visible_rows(page)) > len(errors)
    page.evaluate("window.scrollTo(0, 0)")
    save_screenshot(page, "execution-logs")


def test_run_again_starts_a_new_execution_with_the_same_inputs(page, login, make_namespace):
    space = outside_playwright(lambda: make_namespace("again"))
    operator = account("again", Role.EDITOR, space)
    login(page, operator)
    flow = outside_playwright(lambda: flow_create(actor=operator, namespace=space, source=QUICK))
    first = outside_playwright(lambda: execution_start(actor=operator, flow=flow, inputs={"region": "us-east"}))
    wait_for_status(first, E.SUCCESS)

    page.goto(f"/admin/executions/execution/{first.pk}/change/")
    page.click(".rerun-button")

    page.locator(".messagelist").get_by_text("again with the same inputs").wait_for()
    assert str(first.pk) not in page.url
    again = outside_playwright(lambda: Execution.objects.exclude(pk=first.pk).get(flow=flow))
    assert str(again.pk) in page.url
    assert again.inputs == {"region": "us-east"}
    page.locator("#execution-status", has_text="SUCCESS").wait_for()
    assert page.locator(".execution-logs").get_by_text("Hello from us-east").is_visible()


def test_previous_and_next_runs_of_the_flow(page, login, make_namespace):
    space = outside_playwright(lambda: make_namespace("neighbours"))
    operator = account("walker", Role.EDITOR, space)
    login(page, operator)
    flow = outside_playwright(lambda: flow_create(actor=operator, namespace=space, source=QUICK))
    first, second = (outside_playwright(lambda: execution_start(actor=operator, flow=flow)) for _ in range(2))

    page.goto(f"/admin/executions/execution/{first.pk}/change/")
    assert page.locator("span.execution-previous").is_visible()  # nothing earlier
    page.click("a.execution-next")

    page.wait_for_url(f"**/{second.pk}/change/")
    assert page.locator("span.execution-next").is_visible()  # nothing later
    page.click("a.execution-previous")
    page.wait_for_url(f"**/{first.pk}/change/")
