"""`recoverMissedSchedules`: what a schedule does with the ticks missed while no worker ran."""

from datetime import UTC, datetime, timedelta

import pytest

from accounts.roles import Role
from core.errors import BadRequest, ValidationFailed
from executions.models import Execution
from executions.triggers import fire_due_schedules
from flows.models import Trigger
from flows.services import flow_create
from flows.triggers import MAX_TICKS, backfill_ticks, trigger_create
from tests.factories import AccountFactory, FlowFactory
from tests.flows.definitions.support import found, problems_of

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 25, 9, 0, 30, tzinfo=UTC)
DOWN = T0 + timedelta(hours=3)  # 180 ticks of an every-minute schedule went by


@pytest.fixture
def editor(namespace):
    return AccountFactory(role=Role.EDITOR, default_namespace=namespace)


@pytest.fixture
def schedule(editor, namespace, monkeypatch):
    def make(recover: str | None, cron: str = "* * * * *") -> Trigger:
        monkeypatch.setattr("flows.triggers.timezone.now", lambda: T0)
        extra = {"recover_missed": recover} if recover else {}
        trigger = trigger_create(
            actor=editor, flow=FlowFactory(namespace=namespace), type="schedule", cron=cron, **extra
        )
        monkeypatch.undo()
        return trigger

    return make


def dates() -> list[str]:
    return [e.trigger_data["date"] for e in Execution.objects.order_by("created_at")]


def test_last_is_the_default_and_starts_the_latest_missed_tick_once(schedule):
    trigger = schedule(None)

    started = fire_due_schedules(now=DOWN)

    assert trigger.recover_missed == "LAST"
    assert len(started) == 1
    assert dates() == ["2026-03-25T12:00:00.000000Z"]
    trigger.refresh_from_db()
    assert trigger.next_fire_at == datetime(2026, 3, 25, 12, 1, tzinfo=UTC)


def test_all_starts_one_execution_per_missed_tick_oldest_first(schedule):
    trigger = schedule("ALL", cron="*/30 * * * *")  # 09:30 ... 12:00: six ticks

    started = fire_due_schedules(now=DOWN)

    assert len(started) == 6
    assert dates() == [f"2026-03-25T{h}:00.000000Z" for h in ("09:30", "10:00", "10:30", "11:00", "11:30", "12:00")]
    assert fire_due_schedules(now=DOWN) == []  # the claim moved on
    trigger.refresh_from_db()
    assert trigger.next_fire_at == datetime(2026, 3, 25, 12, 30, tzinfo=UTC)


def test_all_is_bounded_by_the_backfill_limit_keeping_the_latest_ticks(schedule, monkeypatch):
    schedule("ALL")
    monkeypatch.setattr("flows.triggers.MAX_TICKS", 5)  # the same bound as 1000, cheaper to start

    started = fire_due_schedules(now=T0 + timedelta(days=1))  # 1440 missed minutes

    assert len(started) == 5
    assert dates() == [f"2026-03-26T08:{m}:00.000000Z" for m in (56, 57, 58, 59)] + ["2026-03-26T09:00:00.000000Z"]


def test_none_skips_missed_ticks_but_runs_an_on_time_one(schedule):
    trigger = schedule("NONE", cron="0 * * * *")  # armed for 10:00

    assert fire_due_schedules(now=datetime(2026, 3, 25, 12, 30, 30, tzinfo=UTC)) == []  # 10:00-12:00 missed
    trigger.refresh_from_db()
    assert trigger.next_fire_at == datetime(2026, 3, 25, 13, 0, tzinfo=UTC)
    assert len(fire_due_schedules(now=datetime(2026, 3, 25, 13, 0, 20, tzinfo=UTC))) == 1  # 20 s late: on time
    assert dates() == ["2026-03-25T13:00:00.000000Z"]


def test_the_api_services_refuse_an_unknown_recovery(schedule):
    with pytest.raises(ValidationFailed, match="recoverMissedSchedules"):
        schedule("SOME")


def test_a_yaml_schedule_declares_its_recovery_and_a_bad_one_is_a_problem_with_its_line(editor, namespace):
    source = (
        "name: nightly\ntriggers:\n  - id: tick\n    type: schedule\n    cron: '0 2 * * *'\n"
        "    recoverMissedSchedules: ALL\n"
        "tasks:\n  - name: a\n    type: util.log\n    properties: {message: m}\n"
    )
    flow = flow_create(actor=editor, namespace=namespace, source=source)
    assert Trigger.objects.get(flow=flow).recover_missed == "ALL"
    bad = source.replace("recoverMissedSchedules: ALL", "recoverMissedSchedules: SOMETIMES")
    assert found(problems_of(bad)) == [("triggers[0].recoverMissedSchedules", 6, "invalid_value")]


def test_backfill_ticks_are_the_range_start_included_end_excluded_oldest_first():
    start, end = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 4, tzinfo=UTC)

    assert backfill_ticks("0 0 * * *", "UTC", start, end) == [
        start,
        start + timedelta(days=1),
        start + timedelta(days=2),
    ]
    assert backfill_ticks("0 9 * * *", "Europe/Paris", start, end)[0] == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert len(backfill_ticks("* * * * *", "UTC", start, start + timedelta(minutes=MAX_TICKS))) == MAX_TICKS
    with pytest.raises(BadRequest, match="more than 1000 ticks"):
        backfill_ticks("* * * * *", "UTC", start, start + timedelta(minutes=MAX_TICKS, seconds=1))
    with pytest.raises(BadRequest, match="end must be after start"):
        backfill_ticks("* * * * *", "UTC", end, start)
