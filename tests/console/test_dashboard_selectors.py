"""The dashboard's aggregates: buckets per hour and per day with statuses stacked, percentiles
per flow, pending approvals, each scoped to the caller's namespaces."""

from datetime import UTC, datetime, timedelta

import pytest

from accounts.roles import Role
from console.selectors import (
    WINDOWS,
    approvals_waiting,
    execution_timeline,
    flow_durations,
    percentile,
    window_named,
)
from executions.models import Approval, Execution, ExecutionStatus
from tests.factories import ApprovalFactory, ExecutionFactory, FlowFactory, TaskRunFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 7, 14, 25, tzinfo=UTC)
S = ExecutionStatus


def run(flow, status: str, *, created: datetime, seconds: float | None = None) -> Execution:
    """An execution created at `created` (auto_now_add is overwritten), lasting `seconds` if given."""
    execution = ExecutionFactory(flow=flow, status=status)
    fields = {"created_at": created}
    if seconds is not None:
        fields |= {"started_at": created, "finished_at": created + timedelta(seconds=seconds)}
    Execution.objects.filter(pk=execution.pk).update(**fields)
    return execution


@pytest.fixture
def flow(namespace):
    return FlowFactory(namespace=namespace, name="nightly")


def test_the_last_24_hours_are_24_hourly_buckets_ending_with_the_current_hour(admin_account, flow) -> None:
    run(flow, S.SUCCESS, created=NOW - timedelta(minutes=5))  # 14:20, the current hour
    run(flow, S.SUCCESS, created=NOW - timedelta(minutes=20))  # 14:05
    run(flow, S.FAILED, created=NOW - timedelta(minutes=10))
    run(flow, S.SUCCESS, created=NOW - timedelta(hours=2))  # 12:25
    run(flow, S.RUNNING, created=datetime(2026, 12, 6, 15, 0, tzinfo=UTC))  # the first bucket's start
    run(flow, S.SUCCESS, created=datetime(2026, 12, 6, 14, 59, tzinfo=UTC))  # just before the window

    timeline = execution_timeline(account=admin_account, window=WINDOWS["24h"], now=NOW)

    starts = [bucket.start for bucket in timeline.buckets]
    assert len(starts) == 24
    assert starts[0] == datetime(2026, 12, 6, 15, tzinfo=UTC)
    assert starts[-1] == datetime(2026, 12, 7, 14, tzinfo=UTC)
    last = timeline.buckets[-1].counts
    assert (last[S.SUCCESS], last[S.FAILED], timeline.buckets[-1].total) == (2, 1, 3)
    assert timeline.buckets[-3].counts[S.SUCCESS] == 1  # 12:00
    assert timeline.buckets[0].counts[S.RUNNING] == 1
    assert timeline.total == 5
    assert set(last) == set(S.values)  # every status, zeros included
    assert timeline.status_totals()[S.SUCCESS] == 3


def test_the_last_7_days_are_daily_buckets(admin_account, flow) -> None:
    run(flow, S.SUCCESS, created=NOW)
    run(flow, S.TIMED_OUT, created=NOW - timedelta(days=1))
    run(flow, S.SUCCESS, created=datetime(2026, 12, 1, 0, 0, tzinfo=UTC))  # first day, first minute
    run(flow, S.SUCCESS, created=datetime(2026, 11, 30, 23, 59, tzinfo=UTC))  # outside

    timeline = execution_timeline(account=admin_account, window=window_named("7d"), now=NOW)

    assert [bucket.start.day for bucket in timeline.buckets] == [1, 2, 3, 4, 5, 6, 7]
    assert [bucket.total for bucket in timeline.buckets] == [1, 0, 0, 0, 0, 1, 1]
    assert timeline.buckets[5].counts[S.TIMED_OUT] == 1


def test_an_unknown_window_is_the_default() -> None:
    assert window_named("1y") is WINDOWS["24h"]
    assert window_named(None) is WINDOWS["24h"]


def test_nothing_to_show_gives_zeros_and_no_flows(admin_account) -> None:
    timeline = execution_timeline(account=admin_account, window=WINDOWS["24h"], now=NOW)
    assert timeline.total == 0 and len(timeline.buckets) == 24
    assert flow_durations(account=admin_account, window=WINDOWS["24h"], now=NOW) == []
    waiting = approvals_waiting(account=admin_account)
    assert (waiting.pending, waiting.executions, waiting.oldest) == (0, 0, [])


def test_percentiles_interpolate_between_ranks_as_percentile_cont() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.95) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.5) == pytest.approx(50.5)
    assert percentile(values, 0.95) == pytest.approx(95.05)


def test_durations_of_the_busiest_flows(admin_account, namespace) -> None:
    busy, quiet, idle = (FlowFactory(namespace=namespace, name=name) for name in ("busy", "quiet", "idle"))
    for seconds in range(1, 21):  # 1 .. 20 s
        run(busy, S.SUCCESS, created=NOW - timedelta(minutes=seconds), seconds=seconds)
    run(busy, S.RUNNING, created=NOW - timedelta(minutes=1))  # counted as a run, no duration
    run(busy, S.SUCCESS, created=NOW - timedelta(days=2), seconds=5000)  # outside the window
    run(quiet, S.FAILED, created=NOW - timedelta(hours=1), seconds=3)
    run(quiet, S.SUCCESS, created=NOW - timedelta(hours=2), seconds=9)
    run(idle, S.QUEUED, created=NOW - timedelta(hours=3))

    rows = flow_durations(account=admin_account, window=WINDOWS["24h"], now=NOW)

    assert [(row.flow_name, row.runs, row.finished) for row in rows] == [
        ("busy", 21, 20),
        ("quiet", 2, 2),
        ("idle", 1, 0),
    ]
    assert rows[0].p50 == pytest.approx(10.5)
    assert rows[0].p95 == pytest.approx(19.05)
    assert (rows[1].p50, rows[1].p95) == (pytest.approx(6.0), pytest.approx(8.7))
    assert (rows[2].p50, rows[2].p95) == (None, None)
    assert flow_durations(account=admin_account, window=WINDOWS["24h"], now=NOW, top=1)[0].flow_name == "busy"


def test_durations_come_from_the_latest_runs_when_capped(admin_account, flow) -> None:
    for minutes, seconds in ((1, 100), (2, 100), (3, 1), (4, 1), (5, 1)):
        run(flow, S.SUCCESS, created=NOW - timedelta(minutes=minutes), seconds=seconds)

    [row] = flow_durations(account=admin_account, window=WINDOWS["24h"], now=NOW, sample=2)

    assert (row.runs, row.finished, row.p50) == (5, 2, 100)


def test_a_member_sees_only_their_namespaces(make_account, namespace, other_namespace) -> None:
    ours = FlowFactory(namespace=namespace, name="ours")
    theirs = FlowFactory(namespace=other_namespace, name="theirs")
    run(ours, S.SUCCESS, created=NOW - timedelta(minutes=3), seconds=2)
    run(theirs, S.SUCCESS, created=NOW - timedelta(minutes=3), seconds=2)
    run(theirs, S.FAILED, created=NOW - timedelta(minutes=3), seconds=2)
    ApprovalFactory(task_run=TaskRunFactory(execution=run(theirs, S.WAITING, created=NOW), sequence=1))
    member = make_account(Role.VIEWER, namespace=namespace)

    timeline = execution_timeline(account=member, window=WINDOWS["24h"], now=NOW)
    assert timeline.total == 1 and timeline.status_totals()[S.FAILED] == 0
    assert [row.flow_name for row in flow_durations(account=member, window=WINDOWS["24h"], now=NOW)] == ["ours"]
    assert approvals_waiting(account=member).pending == 0


def test_pending_approvals_are_counted_with_their_executions_and_question(admin_account, flow) -> None:
    first = run(flow, S.WAITING, created=NOW)
    second = run(flow, S.WAITING, created=NOW)
    ApprovalFactory(task_run=TaskRunFactory(execution=first, sequence=1, name="gate", inputs={"message": "Ship it?"}))
    ApprovalFactory(task_run=TaskRunFactory(execution=first, sequence=2))
    ApprovalFactory(task_run=TaskRunFactory(execution=second, sequence=1))
    ApprovalFactory(task_run=TaskRunFactory(execution=second, sequence=2), status=Approval.Status.APPROVED)

    waiting = approvals_waiting(account=admin_account, limit=2)

    assert (waiting.pending, waiting.executions) == (3, 2)
    assert len(waiting.oldest) == 2
    assert waiting.oldest[0].message == "Ship it?"
    assert waiting.oldest[0].approval.execution_id == first.pk
