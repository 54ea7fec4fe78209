"""The dashboard page and its panels route: charts as SVG, the 24 h / 7 d switch, the approvals
callout, the worker and queue readings, and a bounded number of queries."""

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.signing import SignedPackage

from accounts.roles import Role
from console.workers import AMBER, GREEN, RED, QueueStatus, oldest_queued_at, queue_status
from executions.models import Execution, ExecutionStatus
from tests.factories import ApprovalFactory, ExecutionFactory, FlowFactory, TaskRunFactory

pytestmark = pytest.mark.django_db
DASHBOARD = reverse("admin:index")
PANELS = reverse("admin:dashboard_panels")


@pytest.fixture
def operator(admin_account, client):
    client.force_login(admin_account)
    return admin_account


def finished(flow, status: str, *, seconds: float, ago: timedelta = timedelta(minutes=5)) -> Execution:
    execution = ExecutionFactory(flow=flow, status=status)
    started = timezone.now() - ago
    Execution.objects.filter(pk=execution.pk).update(
        created_at=started, started_at=started, finished_at=started + timedelta(seconds=seconds)
    )
    return execution


def test_the_page_draws_both_charts_with_a_bar_per_status(client, operator, namespace) -> None:
    flow = FlowFactory(namespace=namespace, name="nightly-<report>")
    finished(flow, ExecutionStatus.SUCCESS, seconds=2)
    finished(flow, ExecutionStatus.FAILED, seconds=4)

    page = client.get(DASHBOARD).content.decode()

    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" class="mr-chart') == 2
    assert 'data-status="SUCCESS" data-count="1"' in page and 'data-status="FAILED" data-count="1"' in page
    assert 'role="img"' in page and "Executions per hour, last 24 hours, by status" in page
    assert "nightly-&lt;report&gt;" in page and "nightly-<report>" not in page
    assert "p50 3.0 s" in page  # halfway between 2 and 4 s
    assert 'aria-current="true" class="mr-current">24h<' in page
    assert f'data-refresh-url="{PANELS}?window=24h"' in page
    assert "millrace/dashboard.js" in page


def test_the_7_day_window_draws_days(client, operator, namespace) -> None:
    finished(FlowFactory(namespace=namespace), ExecutionStatus.SUCCESS, seconds=1, ago=timedelta(days=3))

    response = client.get(DASHBOARD, {"window": "7d"})

    assert response.context["dashboard"].window.key == "7d"
    page = response.content.decode()
    assert "Executions per day, last 7 days" in page
    assert page.count('class="mr-bucket"') == 7
    assert 'data-status="SUCCESS" data-count="1"' in page


def test_an_unknown_window_shows_the_default(client, operator) -> None:
    response = client.get(DASHBOARD, {"window": "<script>"})
    assert response.status_code == 200
    assert response.context["dashboard"].window.key == "24h"


def test_the_panels_route_returns_the_panels_alone(client, operator, namespace) -> None:
    finished(FlowFactory(namespace=namespace), ExecutionStatus.SUCCESS, seconds=1)

    response = client.get(PANELS, {"window": "7d"})

    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body and 'id="executions-over-time"' in body and 'id="health"' in body
    assert "Executions per day" in body


def test_the_panels_need_a_console_login(client) -> None:
    response = client.get(PANELS)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_pending_approvals_are_called_out_with_links(client, operator, namespace) -> None:
    execution = ExecutionFactory(flow=FlowFactory(namespace=namespace, name="deploy"), status=ExecutionStatus.WAITING)
    ApprovalFactory(task_run=TaskRunFactory(execution=execution, sequence=1, inputs={"message": "Ship it?"}))

    page = client.get(DASHBOARD).content.decode()

    approvals = reverse("admin:executions_approval_changelist") + "?status__exact=pending"
    assert f'id="approvals-count" href="{approvals}">1</a>' in page
    assert reverse("admin:executions_execution_change", args=[execution.pk]) in page
    assert "Ship it?" in page and "mr-attention" in page


def test_no_pending_approval_says_so(client, operator) -> None:
    page = client.get(DASHBOARD).content.decode()
    assert '<span id="approvals-count">0</span> approvals pending' in page
    assert "mr-attention" not in page


def test_a_member_sees_only_their_namespace_in_the_charts(client, make_account, namespace, other_namespace) -> None:
    finished(FlowFactory(namespace=namespace, name="ours"), ExecutionStatus.SUCCESS, seconds=1)
    finished(FlowFactory(namespace=other_namespace, name="theirs-secret"), ExecutionStatus.FAILED, seconds=1)
    client.force_login(make_account(Role.VIEWER, namespace=namespace))

    for url in (DASHBOARD, PANELS):
        body = client.get(url).content.decode()
        assert "ours" in body and "theirs-secret" not in body
        assert "mr-seg mr-c-failed" not in body and "mr-seg mr-c-success" in body


def test_the_dashboard_reads_a_bounded_number_of_queries(
    client, operator, namespace, django_assert_max_num_queries
) -> None:
    for index in range(12):
        flow = FlowFactory(namespace=namespace, name=f"flow-{index}")
        for status in (ExecutionStatus.SUCCESS, ExecutionStatus.FAILED, ExecutionStatus.WAITING):
            execution = finished(flow, status, seconds=index + 1)
        ApprovalFactory(task_run=TaskRunFactory(execution=execution, sequence=1))
    # session, account, 11 reads of the dashboard (the queue's oldest task included), 2 of the menu
    with django_assert_max_num_queries(15):
        assert client.get(DASHBOARD).status_code == 200
    with django_assert_max_num_queries(15):
        assert client.get(PANELS, {"window": "7d"}).status_code == 200


def test_the_longest_waiting_task_is_read_from_the_broker() -> None:
    broker = get_broker(list_key=f"dashboard-test-{uuid.uuid4().hex}")
    queued = timezone.now() - timedelta(minutes=2)
    try:
        assert oldest_queued_at(broker) is None
        broker.enqueue(SignedPackage.dumps({"id": "t1", "func": "math.floor", "started": queued}))
        broker.enqueue(SignedPackage.dumps({"id": "t2", "func": "math.floor", "started": timezone.now()}))
        assert oldest_queued_at(broker) == queued
        status = queue_status(broker)
        assert status.oldest_wait >= timedelta(minutes=2)
        assert {reading.key: reading.level for reading in status.health}["oldest"] == AMBER
    finally:
        broker.purge_queue()


def reading_levels(status: QueueStatus) -> dict[str, str]:
    return {reading.key: reading.level for reading in status.health}


def test_readings_turn_amber_and_red_past_their_thresholds() -> None:
    now = timezone.now()
    idle = QueueStatus(broker="ORM", depth=0, read_at=now)
    assert reading_levels(idle) == {"workers": RED, "depth": GREEN, "oldest": GREEN}
    busy = QueueStatus(broker="ORM", depth=150, read_at=now, oldest_queued_at=now - timedelta(minutes=6))
    assert reading_levels(busy) == {"workers": RED, "depth": AMBER, "oldest": RED}
    assert reading_levels(QueueStatus(broker="ORM", depth=5000, read_at=now))["depth"] == RED
    down = QueueStatus(broker="unreachable", depth=None, error="ConnectionError")
    assert reading_levels(down) == {"workers": RED, "depth": RED, "oldest": RED}
    assert [reading.value for reading in down.health][1:] == ["broker unreachable", "unknown"]


def test_a_task_that_cannot_be_read_leaves_only_its_age_unknown() -> None:
    broker = get_broker(list_key=f"dashboard-test-{uuid.uuid4().hex}")
    try:
        broker.enqueue("not a signed package")
        status = queue_status(broker)
        assert (status.depth, status.error, status.oldest_queued_at) == (1, "", None)
        oldest = status.health[2]
        assert (oldest.value, oldest.level) == ("unknown", GREEN)
    finally:
        broker.purge_queue()
