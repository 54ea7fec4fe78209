"""The dashboard in a real browser: what an operator sees first, scoped to their namespaces."""

import time
from datetime import timedelta

from django.utils import timezone

from executions.models import Execution, ExecutionStatus
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.helpers import click_through, outside_playwright, save_screenshot
from tests.browser.readability import low_contrast
from tests.factories import AgentFactory, ApprovalFactory, ExecutionFactory, FlowFactory, TaskRunFactory

S = ExecutionStatus
STATUSES = [
    ExecutionStatus.SUCCESS,
    ExecutionStatus.SUCCESS,
    ExecutionStatus.SUCCESS,
    ExecutionStatus.SUCCESS,
    ExecutionStatus.RUNNING,
    ExecutionStatus.WAITING,
    ExecutionStatus.FAILED,
    ExecutionStatus.CANCELLED,
]


def populate(make_namespace) -> tuple:
    production, staging = make_namespace("production"), make_namespace("staging")
    nightly = FlowFactory(namespace=production, name="nightly-report")
    sync = FlowFactory(namespace=staging, name="crm-sync")
    for status in STATUSES:
        ExecutionFactory(flow=nightly, status=status)
    ExecutionFactory(
        flow=nightly,
        status=ExecutionStatus.FAILED,
        error="Step 'fetch' failed: HTTP 503 from https://reports.example.com/daily",
    )
    ExecutionFactory(flow=sync, status=ExecutionStatus.RUNNING)
    ExecutionFactory(flow=sync, status=ExecutionStatus.TIMED_OUT, error="crm-sync-secret-failure in staging")
    AgentFactory(namespace=production, name="status-feed", type="http.website", last_error="HTTP 404 for /feed.xml")
    AgentFactory(namespace=staging, name="staging-watcher", last_error="staging-only agent error")
    return production, staging


def test_the_operator_sees_every_namespace(page, login, make_superuser, make_namespace) -> None:
    populate(make_namespace)
    login(page, make_superuser())

    cards = page.locator("#executions-by-status .mr-card")
    assert cards.filter(has_text="SUCCESS").locator(".mr-count").inner_text() == "4"
    assert cards.filter(has_text="FAILED").locator(".mr-count").inner_text() == "2"
    assert cards.filter(has_text="RUNNING").locator(".mr-count").inner_text() == "2"
    failures = page.locator("#recent-failures")
    assert "HTTP 503 from https://reports.example.com/daily" in failures.inner_text()
    assert "crm-sync-secret-failure" in failures.inner_text()
    assert page.locator("#in-progress tbody tr").count() == 3
    assert "HTTP 404 for /feed.xml" in page.locator("#failing-agents").inner_text()
    assert page.locator("#task-queue").is_visible()
    save_screenshot(page, "dashboard")


def test_a_namespace_admin_sees_only_their_namespace(page, login, make_namespace_admin, make_namespace) -> None:
    production, _ = populate(make_namespace)
    login(page, make_namespace_admin(production))

    body = page.locator("#content-main").inner_text()
    assert "nightly-report" in body
    for leaked in ("crm-sync", "staging-watcher", "staging-only agent error", "crm-sync-secret-failure"):
        assert leaked not in body
    cards = page.locator("#executions-by-status .mr-card")
    assert cards.filter(has_text="RUNNING").locator(".mr-count").inner_text() == "1"


def add_finished_runs(make_namespace) -> None:
    """A day of finished runs, a few per hour, so that both charts have bars: `quick-check`
    runs take 1 to 6 s, `slow-export` runs 10 to 30 s; every seventh quick check fails."""
    space = make_namespace("analytics")
    now = timezone.now()
    quick, slow = FlowFactory(namespace=space, name="quick-check"), FlowFactory(namespace=space, name="slow-export")
    for hour in range(1, 19):
        for index in range(hour % 3 + 1):
            number = hour * 3 + index
            run(quick, S.FAILED if number % 7 == 0 else S.SUCCESS, now - timedelta(hours=hour), number % 6 + 1)
        if hour % 4 == 0:
            run(slow, S.SUCCESS, now - timedelta(hours=hour, minutes=30), 10 * (hour // 4 % 3 + 1))


def run(flow, status: str, created, seconds: float) -> None:
    execution = ExecutionFactory(flow=flow, status=status)
    started = created + timedelta(seconds=1)
    Execution.objects.filter(pk=execution.pk).update(
        created_at=created, started_at=started, finished_at=started + timedelta(seconds=seconds)
    )


def segment_total(page, status: str) -> int:
    counts = page.locator(f"#executions-chart rect.mr-seg[data-status={status}]").evaluate_all(
        "rects => rects.map(r => Number(r.dataset.count))"
    )
    return sum(counts)


def test_the_charts_draw_bars_and_switch_to_seven_days(page, login, make_superuser, make_namespace) -> None:
    populate(make_namespace)
    add_finished_runs(make_namespace)
    login(page, make_superuser())

    assert page.locator("#executions-chart").get_attribute("role") == "img"
    assert page.locator("#executions-chart-title").text_content().startswith("Executions per hour")
    assert page.locator("#executions-chart .mr-bucket").count() == 24
    assert segment_total(page, "SUCCESS") == 39 and segment_total(page, "FAILED") == 7
    box = page.locator("#executions-chart rect.mr-seg[data-status=SUCCESS]").last.bounding_box()
    assert box["height"] > 10 and box["width"] > 5  # drawn, not collapsed
    legend = page.locator("#executions-over-time .mr-legend li[data-status=SUCCESS]")
    assert "SUCCESS" in legend.inner_text() and "39" in legend.inner_text()
    rows = page.locator("#durations-chart .mr-flow-row")
    quick = rows.filter(has=page.locator("text=quick-check"))
    assert quick.locator(".mr-value").text_content() == "p50 3.5 s · p95 6.0 s"
    assert quick.locator("rect.mr-p95").bounding_box()["width"] > quick.locator("rect.mr-p50").bounding_box()["width"]
    save_screenshot(page, "dashboard-charts")

    page.locator(".mr-switch a[data-window='7d']").click()
    page.locator("#executions-chart-title", has_text="Executions per day").wait_for(state="attached")
    assert page.locator("#executions-chart .mr-bucket").count() == 7
    assert segment_total(page, "SUCCESS") == 39
    assert page.url.endswith("/admin/?window=7d")
    assert page.locator(".mr-switch a[aria-current]").inner_text() == "7d"
    page.reload()  # the period is in the address: a reload keeps it
    assert page.locator("#executions-chart .mr-bucket").count() == 7


def test_pending_approvals_are_called_out_with_a_link(page, login, make_superuser, make_namespace) -> None:
    production, _ = populate(make_namespace)
    waiting = ExecutionFactory(flow=FlowFactory(namespace=production, name="deploy"), status=ExecutionStatus.WAITING)
    ApprovalFactory(task_run=TaskRunFactory(execution=waiting, sequence=1, name="gate", inputs={"message": "Ship it?"}))
    login(page, make_superuser())

    callout = page.locator("#approvals-waiting")
    assert callout.locator("#approvals-count").inner_text() == "1"
    assert "Ship it?" in callout.inner_text() and "deploy" in callout.inner_text()
    click_through(page, "#approvals-count")
    assert "/admin/executions/approval/" in page.url and "status__exact=pending" in page.url
    assert page.locator("#result_list tbody tr").count() == 1
    assert "Ship it?" in page.locator("#result_list").inner_text()


def test_the_health_panel_reads_workers_and_queue(page, login, make_superuser) -> None:
    login(page, make_superuser())
    readings = page.locator("#health .mr-reading")
    assert readings.count() == 3
    workers = readings.filter(has_text="Workers seen in the last minute")
    assert workers.get_attribute("data-level") == "red"  # no worker runs beside the tests' server
    assert workers.locator(".mr-reading-level").inner_text() == "Problem"
    depth = page.locator("#health .mr-reading[data-key=depth]")
    assert depth.get_attribute("data-level") == "green" and "0 waiting" in depth.inner_text()
    colour = depth.locator(".mr-dot").evaluate("dot => getComputedStyle(dot).backgroundColor")
    assert colour == "rgb(46, 133, 64)"


def text_becomes(locator, wanted: str, timeout: float = TIMEOUT_MS / 1000) -> bool:
    """Polled from here: the page's own timers are Playwright's fake clock in that test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if locator.inner_text() == wanted:
            return True
        time.sleep(0.1)
    return False


def test_the_panels_refresh_while_shown_and_pause_while_hidden(
    browser, server_url, login, make_superuser, make_namespace
) -> None:
    operator = outside_playwright(make_superuser)
    flow = outside_playwright(lambda: FlowFactory(namespace=make_namespace("production"), name="nightly"))
    outside_playwright(lambda: ExecutionFactory(flow=flow, status=ExecutionStatus.SUCCESS))
    context = browser.new_context(base_url=server_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        page.clock.install()
        login(page, operator)
        success = page.locator("#executions-by-status .mr-card[data-status=SUCCESS] .mr-count")
        assert success.inner_text() == "1"

        outside_playwright(lambda: ExecutionFactory(flow=flow, status=ExecutionStatus.SUCCESS))
        page.evaluate("Object.defineProperty(document, 'hidden', {value: true, configurable: true})")
        page.clock.run_for(31_000)
        page.wait_for_timeout(500)
        assert success.inner_text() == "1"  # a hidden tab reloads nothing

        page.evaluate(
            "Object.defineProperty(document, 'hidden', {value: false, configurable: true});"
            "document.dispatchEvent(new Event('visibilitychange'))"
        )
        assert text_becomes(success, "2")  # shown again after more than 30 s: reloaded at once

        page.locator("#chart-numbers summary").click()
        outside_playwright(lambda: ExecutionFactory(flow=flow, status=ExecutionStatus.SUCCESS))
        page.clock.run_for(31_000)
        assert text_becomes(success, "3")  # and every 30 s after that
        assert page.locator("#chart-numbers").get_attribute("open") is not None  # what was open stays open
        assert segment_total(page, "SUCCESS") == 3
    finally:
        context.close()


def test_the_dashboard_reads_well_in_dark_mode(browser, server_url, login, make_superuser, make_namespace) -> None:
    outside_playwright(lambda: populate(make_namespace))
    outside_playwright(lambda: add_finished_runs(make_namespace))
    operator = outside_playwright(make_superuser)
    colours = {}
    for scheme in ("light", "dark"):
        context = browser.new_context(base_url=server_url, viewport={"width": 1280, "height": 900}, color_scheme=scheme)
        context.set_default_timeout(TIMEOUT_MS)
        try:
            page = context.new_page()
            login(page, operator)
            assert low_contrast(page) == []
            segment = page.locator("#executions-chart rect.mr-seg[data-status=SUCCESS]").first
            colours[scheme] = segment.evaluate("rect => getComputedStyle(rect).fill")
            if scheme == "dark":
                save_screenshot(page, "dashboard-dark")
        finally:
            context.close()
    assert colours == {"light": "rgb(46, 133, 64)", "dark": "rgb(67, 168, 90)"}


def test_a_session_that_ended_stops_the_refresh(browser, server_url, login, make_superuser) -> None:
    operator = outside_playwright(make_superuser)
    context = browser.new_context(base_url=server_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        page.clock.install()
        login(page, operator)
        context.clear_cookies()  # logged out elsewhere: the panels' URL now answers with the login page
        page.clock.run_for(31_000)
        note = page.locator("#dashboard-refreshed")
        assert text_becomes(note, "Not refreshed: reload the page (you may have to log in again).")
        assert page.locator("#executions-over-time").is_visible()  # the last panels stay
    finally:
        context.close()
