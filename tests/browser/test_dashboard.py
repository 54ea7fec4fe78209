"""The dashboard in a real browser: what an operator sees first, scoped to their namespaces."""

from executions.models import ExecutionStatus
from tests.browser.helpers import save_screenshot
from tests.factories import AgentFactory, ExecutionFactory, FlowFactory

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
