"""The execution page in a browser: it follows a run live to SUCCESS without a reload, and an
approval gate is decided from it."""

from accounts.models import Account
from accounts.roles import Role
from executions.models import Execution, ExecutionStatus
from executions.services import approval_decide, execution_start
from flows.services import flow_create
from tests.browser.helpers import outside_playwright, save_screenshot
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
