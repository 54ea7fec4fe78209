"""Schedule triggers: time is driven by the `now` argument; no sleeping."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from accounts.roles import Role
from executions.models import Execution
from executions.triggers import due_triggers, fire_due_schedules, fire_trigger
from flows.models import Trigger
from flows.triggers import next_fire_time, trigger_create
from tests.factories import AccountFactory, FlowFactory, TriggerFactory

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 25, 9, 0, 30, tzinfo=UTC)


@pytest.fixture
def editor(namespace):
    return AccountFactory(role=Role.EDITOR, default_namespace=namespace)


@pytest.fixture
def every_minute(editor, namespace, monkeypatch) -> Trigger:
    flow = FlowFactory(namespace=namespace)
    monkeypatch.setattr("flows.triggers.timezone.now", lambda: T0)
    trigger = trigger_create(actor=editor, flow=flow, type="schedule", cron="* * * * *", inputs={"a": 1})
    monkeypatch.undo()
    return trigger


def test_one_execution_per_tick(every_minute):
    assert every_minute.next_fire_at == datetime(2026, 3, 25, 9, 1, tzinfo=UTC)
    assert fire_due_schedules(now=T0) == []
    first = fire_due_schedules(now=T0 + timedelta(seconds=40))  # 09:01:10
    assert len(first) == 1
    assert fire_due_schedules(now=T0 + timedelta(seconds=50)) == []  # same minute: nothing more
    second = fire_due_schedules(now=T0 + timedelta(seconds=100))  # 09:02:10
    assert len(second) == 1
    runs = Execution.objects.order_by("created_at")
    assert [r.origin for r in runs] == ["schedule", "schedule"]
    assert runs[0].inputs == {"a": 1} and runs[0].trigger_data["date"] == "2026-03-25T09:01:00.000000Z"
    assert runs[1].trigger_data["date"] == "2026-03-25T09:02:00.000000Z"


def test_a_missed_stretch_fires_once(every_minute):
    later = T0 + timedelta(hours=3)
    assert len(fire_due_schedules(now=later)) == 1
    every_minute.refresh_from_db()
    assert every_minute.next_fire_at == datetime(2026, 3, 25, 12, 1, tzinfo=UTC)
    assert every_minute.last_fired_at == later
    assert fire_due_schedules(now=later) == []


def test_two_concurrent_schedulers_never_double_fire(every_minute):
    now = T0 + timedelta(minutes=1)
    seen_by_a, seen_by_b = due_triggers(now), due_triggers(now)  # both read the same due row
    assert [t.pk for t in seen_by_a] == [t.pk for t in seen_by_b] == [every_minute.pk]
    won_a = fire_trigger(seen_by_a[0], now)
    won_b = fire_trigger(seen_by_b[0], now)  # its conditional update matches no row
    assert won_a is not None and won_b is None
    assert Execution.objects.count() == 1


def test_timezones_disabled_and_unstartable_triggers(editor, namespace, monkeypatch):
    assert next_fire_time("0 9 * * *", "Europe/Paris", T0) == datetime(2026, 3, 26, 8, 0, tzinfo=UTC)
    flow = FlowFactory(namespace=namespace)
    monkeypatch.setattr("flows.triggers.timezone.now", lambda: T0)
    paris = trigger_create(actor=editor, flow=flow, type="schedule", cron="0 9 * * *", timezone="Europe/Paris")
    off = trigger_create(actor=editor, flow=flow, type="schedule", cron="* * * * *", enabled=False)
    monkeypatch.undo()
    assert paris.next_fire_at == datetime(2026, 3, 26, 8, 0, tzinfo=UTC) and off.next_fire_at is None
    assert fire_due_schedules(now=datetime(2026, 3, 26, 7, 59, tzinfo=UTC)) == []
    assert len(fire_due_schedules(now=datetime(2026, 3, 26, 8, 0, tzinfo=UTC))) == 1
    flow.source = "not: [valid"
    flow.save()
    Trigger.objects.filter(pk=paris.pk).update(next_fire_at=T0)
    assert fire_due_schedules(now=T0) == []  # logged; the claim stands
    paris.refresh_from_db()
    assert paris.next_fire_at > T0


def test_yaml_declared_schedules_are_armed_then_fired(namespace):
    source = (
        "name: y\ntriggers:\n  - id: tick\n    type: schedule\n    cron: '*/5 * * * *'\n"
        "tasks:\n  - name: a\n    type: util.log\n    properties: {message: m}\n"
    )
    flow = FlowFactory(namespace=namespace, source=source)
    TriggerFactory(flow=flow, type="schedule", cron="*/5 * * * *", from_definition=True, name="tick")
    assert fire_due_schedules(now=T0) == []  # armed for 09:05
    assert Trigger.objects.get(flow=flow).next_fire_at == datetime(2026, 3, 25, 9, 5, tzinfo=UTC)
    assert len(fire_due_schedules(now=datetime(2026, 3, 25, 9, 5, tzinfo=UTC))) == 1


@override_settings(MILLRACE_ENGINE_EAGER=True)
@pytest.mark.django_db(transaction=True)
def test_a_fired_schedule_runs(every_minute):
    [execution_id] = fire_due_schedules(now=T0 + timedelta(minutes=1))
    assert Execution.objects.get(pk=execution_id).status == "SUCCESS"
