"""Backfill: one execution per cron tick of a past range, started as a schedule would start it."""

from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import AuditEntry
from accounts.roles import Role
from core.errors import BadRequest, Forbidden
from executions.models import Execution
from executions.triggers import trigger_backfill
from flows.models import Trigger
from tests.factories import AccountFactory, FlowFactory, TriggerFactory

pytestmark = pytest.mark.django_db
START = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def daily(namespace) -> Trigger:
    flow = FlowFactory(namespace=namespace)
    return TriggerFactory(flow=flow, type="schedule", cron="0 6 * * *", inputs={"region": "eu", "size": 1})


@pytest.fixture
def executor(namespace):
    return AccountFactory(role=Role.EXECUTOR, default_namespace=namespace)


def test_one_execution_per_tick_oldest_first_with_its_date(daily, executor):
    started = trigger_backfill(
        actor=executor, trigger=daily, start=START, end=START + timedelta(days=3), inputs={"size": 2}
    )

    runs = list(Execution.objects.filter(pk__in=[e.pk for e in started]).order_by("created_at"))
    assert [r.trigger_data["date"] for r in runs] == [f"2026-03-0{d}T06:00:00.000000Z" for d in (1, 2, 3)]
    assert [e.pk for e in started] == [r.pk for r in runs]
    assert {r.origin for r in runs} == {"backfill"}
    assert all(r.trigger_id == daily.pk and r.trigger_data["backfill"] is True for r in runs)
    assert all(r.inputs == {"region": "eu", "size": 2} for r in runs)
    assert all(r.created_by == executor for r in runs)
    assert AuditEntry.objects.filter(action="trigger.backfill", resource_id=str(daily.pk)).count() == 1


def test_an_empty_range_starts_nothing(daily, executor):
    assert trigger_backfill(actor=executor, trigger=daily, start=START, end=START + timedelta(hours=5)) == []


@pytest.mark.parametrize(
    ("end", "message"),
    [
        (START - timedelta(days=1), "end must be after start"),
        (START + timedelta(days=1001), "more than 1000 ticks"),
    ],
)
def test_bad_ranges_are_refused_and_start_nothing(daily, executor, end, message):
    with pytest.raises(BadRequest, match=message):
        trigger_backfill(actor=executor, trigger=daily, start=START, end=end)
    assert not Execution.objects.exists()


def test_only_schedule_triggers_and_executors_backfill(daily, namespace):
    webhook = TriggerFactory(flow=daily.flow)
    viewer = AccountFactory(role=Role.VIEWER, default_namespace=namespace)
    with pytest.raises(BadRequest, match="Only a schedule trigger"):
        trigger_backfill(
            actor=AccountFactory(role=Role.EXECUTOR, default_namespace=namespace),
            trigger=webhook,
            start=START,
            end=START + timedelta(days=1),
        )
    with pytest.raises(Forbidden):
        trigger_backfill(actor=viewer, trigger=daily, start=START, end=START + timedelta(days=1))
    assert not Execution.objects.exists()
