"""The console's lists at a laptop's width: agents with their icons the right way round, and the
agent, task-run and event lists (the full log view) fitting the page, messages wrapped; the
executions list with its badges, ids, durations and labels, and bulk Cancel."""

from datetime import timedelta

import pytest
from django.utils import timezone

from executions.models import ExecutionStatus, TaskStatus
from executions.services import execution_start
from flows.services import flow_create
from tests.browser.helpers import outside_playwright, save_screenshot
from tests.browser.readability import overflowing
from tests.factories import AgentFactory, ExecutionEventFactory, ExecutionFactory, FlowFactory, TaskRunFactory

LONG = "Step 'fetch-quarterly-revenue-by-region' failed: " + "HTTP 503 from https://reports.example.com/daily " * 6


def populate(space) -> None:
    AgentFactory(namespace=space, name="healthy-feed-reader", type="Agents::WebsiteAgent", schedule="every_1h")
    AgentFactory(namespace=space, name="paused-digest", type="Agents::EmailAgent", disabled=True)
    AgentFactory(
        namespace=space,
        name="broken-crm-webhook-forwarder",
        type="Agents::PostAgent",
        last_error=f"2026-12-07T04:17:33.934336+00:00 {LONG}",
        last_run_at=timezone.now(),
    )
    flow = FlowFactory(namespace=space, name="quarterly-revenue-report-by-region")
    execution = ExecutionFactory(flow=flow)
    start = timezone.now() - timedelta(seconds=5)
    for number in range(3):
        run = TaskRunFactory(
            execution=execution,
            name=f"fetch-quarterly-revenue-{number}",
            plugin_type="http.request",
            status=TaskStatus.FAILED,
            started_at=start + timedelta(milliseconds=250 * number),
        )
        ExecutionEventFactory(execution=execution, task_run=run, type="task_status", level="error", message=LONG)


@pytest.fixture
def operator(make_superuser, make_namespace):
    space = outside_playwright(lambda: make_namespace("production"))
    outside_playwright(lambda: populate(space))
    return outside_playwright(make_superuser)


def test_agent_icons_say_enabled_and_working(page, login, operator) -> None:
    login(page, operator)
    page.goto("/admin/flows/agent/")
    rows = {
        name: page.locator("#result_list tbody tr", has_text=name)
        for name in ("healthy-feed-reader", "paused-digest", "broken-crm-webhook-forwarder")
    }
    icon = "img[alt='{}']"
    assert rows["healthy-feed-reader"].locator(f"td.field-enabled {icon.format('True')}").count() == 1
    assert rows["healthy-feed-reader"].locator(f"td.field-working {icon.format('True')}").count() == 1
    assert rows["paused-digest"].locator(f"td.field-enabled {icon.format('False')}").count() == 1
    assert rows["broken-crm-webhook-forwarder"].locator(f"td.field-working {icon.format('False')}").count() == 1
    assert rows["broken-crm-webhook-forwarder"].locator(f"td.field-enabled {icon.format('True')}").count() == 1
    header = page.locator("#result_list thead").inner_text().upper()
    assert "ENABLED" in header and "NO ERROR" in header and "DISABLED" not in header
    assert overflowing(page) == []
    save_screenshot(page, "agents-list")


LISTS = ["/admin/flows/agent/", "/admin/executions/taskrun/", "/admin/executions/executionevent/"]


@pytest.mark.parametrize("url", LISTS)
def test_lists_fit_the_page(page, login, operator, url) -> None:
    login(page, operator)
    page.goto(url)
    assert page.locator("#result_list tbody tr").count() == 3
    assert overflowing(page) == []


def test_the_full_log_shows_milliseconds_and_wraps_messages(page, login, operator) -> None:
    login(page, operator)
    page.goto("/admin/executions/executionevent/")
    times = page.locator("#result_list .field-when").all_inner_texts()
    assert len(times) == 3 and all(len(text) == 23 and text[19] == "." for text in times)
    message = page.locator("#result_list td.field-summary").first
    box = message.bounding_box()
    assert box is not None and box["height"] > 40  # wrapped over several lines, not cut at the right
    assert "HTTP 503" in message.inner_text()
    save_screenshot(page, "execution-events")


GATED = """name: release
tasks:
  - name: sign-off
    type: flow.pause
"""


def test_the_executions_list_shows_badges_and_cancels_in_bulk(page, login, make_superuser, make_namespace) -> None:
    space = outside_playwright(lambda: make_namespace("releases"))
    operator = outside_playwright(make_superuser)

    def seed() -> list:
        flow = flow_create(actor=operator, namespace=space, source=GATED)
        waiting = [execution_start(actor=operator, flow=flow, labels={"team": "ops"}) for _ in range(2)]
        finished = ExecutionFactory(flow=flow, status=ExecutionStatus.SUCCESS, labels={"team": "ops"})
        finished.started_at = timezone.now() - timedelta(seconds=42)
        finished.finished_at = timezone.now()
        finished.save()
        return [*waiting, finished]

    first, second, finished = outside_playwright(seed)
    login(page, operator)
    page.goto("/admin/executions/execution/")
    badges = page.locator("#result_list td.field-status_badge .status-badge")
    assert sorted(badges.all_inner_texts()) == ["SUCCESS", "WAITING", "WAITING"]
    success = page.locator("#result_list .status-badge.status-success")
    waiting = page.locator("#result_list .status-badge.status-waiting").first
    colour = "el => getComputedStyle(el).backgroundColor"
    assert success.evaluate(colour) != waiting.evaluate(colour)
    ids = page.locator("#result_list .field-short_id").all_inner_texts()
    assert str(finished.pk)[:8] in ids
    assert (
        "42" in page.locator("#result_list tr", has_text=str(finished.pk)[:8]).locator(".field-duration").inner_text()
    )
    assert page.locator("#result_list td.field-labels_text", has_text="team: ops").count() == 3
    save_screenshot(page, "executions-list")

    for execution in (first, second, finished):
        page.locator(f"#result_list input[name=_selected_action][value='{execution.pk}']").check()
    page.select_option("select[name=action]", "cancel_selected")
    page.click("button[name=index]")

    messages = page.locator(".messagelist")
    messages.get_by_text("2 cancelled.").wait_for()
    assert messages.get_by_text(f"1 could not be cancelled ({str(finished.pk)[:8]})").is_visible()
    assert page.locator("#result_list .status-badge.status-cancelled").count() == 2
    assert overflowing(page) == []
