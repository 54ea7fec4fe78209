"""The one status writer: its allowed-transition tables, conditional writes and events."""

import asyncio
import threading
from itertools import product
from typing import Any
from unittest import mock
from uuid import uuid4

import pytest
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer
from django.db import transaction
from django.utils import timezone

from executions.engine import events
from executions.engine.transitions import (
    EXECUTION_TRANSITIONS,
    TASK_TRANSITIONS,
    TERMINAL_TASK_STATUSES,
    IllegalTransition,
    StaleStatus,
    task_runs_create,
    transition,
)
from executions.models import (
    TERMINAL_EXECUTION_STATUSES,
    Execution,
    ExecutionEvent,
    ExecutionStatus,
    TaskRun,
    TaskStatus,
)
from tests.executions.engine.support import status_events
from tests.factories import ExecutionFactory, TaskRunFactory

E, T = ExecutionStatus, TaskStatus

EXECUTION_ALLOWED = [(a, b) for a, targets in EXECUTION_TRANSITIONS.items() for b in sorted(targets)]
EXECUTION_REFUSED = [(a, b) for a, b in product(E.values, E.values) if b not in EXECUTION_TRANSITIONS.get(a, ())]
TASK_ALLOWED = [(a, b) for a, targets in TASK_TRANSITIONS.items() for b in sorted(targets)]
TASK_REFUSED = [(a, b) for a, b in product(T.values, T.values) if b not in TASK_TRANSITIONS.get(a, ())]


def make_task_run(status: str = T.QUEUED, execution: Execution | None = None, **fields: Any) -> TaskRun:
    return TaskRunFactory(
        execution=execution or ExecutionFactory(status=E.RUNNING),
        step_id="step",
        name="step",
        plugin_type="util.echo",
        sequence=1,
        status=status,
        **fields,
    )


def unsaved_run(execution: Execution, status: str, sequence: int = 1) -> TaskRun:
    return TaskRun(
        id=uuid4(),
        execution=execution,
        step_id=f"s{sequence}",
        name=f"s{sequence}",
        plugin_type="util.echo",
        sequence=sequence,
        status=status,
    )


def test_the_tables_cover_every_status_and_terminal_successes_are_final():
    assert set(EXECUTION_TRANSITIONS) == set(E.values)
    assert set(TASK_TRANSITIONS) >= set(T.values) - {T.PAUSED}
    assert EXECUTION_TRANSITIONS[E.SUCCESS] == frozenset()
    assert TASK_TRANSITIONS[T.SUCCESS] == TASK_TRANSITIONS[T.SKIPPED] == frozenset()
    assert len(EXECUTION_REFUSED) > 30 and len(TASK_REFUSED) > 60  # the refused lists are not vacuous


# --- executions ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("current", "target"), EXECUTION_ALLOWED)
def test_every_allowed_execution_move_is_written_with_its_event(current, target):
    execution = ExecutionFactory(status=current)
    transition(execution, target, message="moved", data={"why": "test"})
    execution.refresh_from_db()
    assert execution.status == target
    [event] = status_events(execution)
    assert event.type == "execution_status" and event.task_run_id is None
    assert event.message == "moved"
    assert event.data == {"status": target, "previous": current, "why": "test"}


@pytest.mark.django_db
@pytest.mark.parametrize(("current", "target"), EXECUTION_REFUSED)
def test_every_refused_execution_move_raises_and_writes_nothing(current, target):
    execution = ExecutionFactory(status=current)
    with pytest.raises(IllegalTransition):
        transition(execution, target, error="should not be written")
    assert execution.status == current
    stored = Execution.objects.get(pk=execution.pk)
    assert (stored.status, stored.error) == (current, "")
    assert not ExecutionEvent.objects.filter(execution=execution).exists()


@pytest.mark.django_db
def test_started_and_finished_times_are_set_and_a_reopened_execution_is_unfinished():
    execution = ExecutionFactory(status=E.QUEUED)
    transition(execution, E.RUNNING)
    execution.refresh_from_db()
    started = execution.started_at
    assert started is not None and execution.finished_at is None
    transition(execution, E.WAITING)
    transition(execution, E.RUNNING)
    transition(execution, E.FAILED, error="boom")
    execution.refresh_from_db()
    assert execution.started_at == started  # a second RUNNING keeps the first start
    assert execution.finished_at is not None and execution.finished_at >= started
    assert execution.error == "boom"
    transition(execution, E.QUEUED)  # a retry reopens it
    execution.refresh_from_db()
    assert execution.finished_at is None and execution.started_at == started


@pytest.mark.django_db
def test_fields_given_with_the_move_are_written_with_it():
    execution = ExecutionFactory(status=E.RUNNING)
    transition(execution, E.SUCCESS, outputs={"a": 1}, steps_taken=4)
    stored = Execution.objects.get(pk=execution.pk)
    assert (stored.outputs, stored.steps_taken) == ({"a": 1}, 4)
    assert execution.outputs == {"a": 1}  # the instance is updated too


@pytest.mark.django_db
def test_a_stale_execution_status_raises_and_writes_nothing():
    execution = ExecutionFactory(status=E.RUNNING)
    seen = Execution.objects.get(pk=execution.pk)
    Execution.objects.filter(pk=execution.pk).update(status=E.PAUSED)  # another request won meanwhile
    with pytest.raises(StaleStatus):
        transition(seen, E.SUCCESS, outputs={"late": True})
    stored = Execution.objects.get(pk=execution.pk)
    assert (stored.status, stored.outputs, stored.finished_at) == (E.PAUSED, None, None)
    assert not ExecutionEvent.objects.filter(execution=execution).exists()


@pytest.mark.django_db
def test_the_loser_of_two_racing_writers_gets_stale_status():
    execution = ExecutionFactory(status=E.WAITING)
    first, second = Execution.objects.get(pk=execution.pk), Execution.objects.get(pk=execution.pk)
    transition(first, E.RUNNING)
    with pytest.raises(StaleStatus):
        transition(second, E.CANCELLED)
    assert Execution.objects.get(pk=execution.pk).status == E.RUNNING
    assert [event.data["status"] for event in status_events(execution)] == [E.RUNNING]


# --- task runs ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("current", "target"), TASK_ALLOWED)
def test_every_allowed_task_move_is_written_with_its_event(current, target):
    run = make_task_run(current)
    transition(run, target, message="moved")
    run.refresh_from_db()
    assert run.status == target
    [event] = status_events(run)
    assert event.type == "task_status" and event.execution_id == run.execution_id
    assert event.data == {"status": target, "previous": current, "step": "step", "name": "step", "plugin": "util.echo"}
    if target in TERMINAL_TASK_STATUSES:
        assert run.finished_at is not None


@pytest.mark.django_db
@pytest.mark.parametrize(("current", "target"), TASK_REFUSED)
def test_every_refused_task_move_raises_and_writes_nothing(current, target):
    run = make_task_run(current)
    with pytest.raises(IllegalTransition):
        transition(run, target, error="should not be written")
    stored = TaskRun.objects.get(pk=run.pk)
    assert (stored.status, stored.error) == (current, "")
    assert not ExecutionEvent.objects.filter(task_run=run).exists()


@pytest.mark.django_db
def test_task_run_times():
    run = make_task_run(T.QUEUED)
    transition(run, T.RUNNING)
    run.refresh_from_db()
    started = run.started_at
    assert started is not None and run.finished_at is None
    transition(run, T.RETRYING)
    transition(run, T.RUNNING)
    transition(run, T.TIMED_OUT)
    run.refresh_from_db()
    assert run.started_at == started and run.finished_at is not None
    transition(run, T.QUEUED)
    run.refresh_from_db()
    assert run.finished_at is None


@pytest.mark.django_db
def test_a_stale_task_status_raises_and_writes_nothing():
    run = make_task_run(T.RUNNING)
    seen = TaskRun.objects.get(pk=run.pk)
    TaskRun.objects.filter(pk=run.pk).update(status=T.TIMED_OUT)  # the sweeper timed it out meanwhile
    with pytest.raises(StaleStatus):
        transition(seen, T.SUCCESS, outputs={"late": True})
    stored = TaskRun.objects.get(pk=run.pk)
    assert (stored.status, stored.outputs) == (T.TIMED_OUT, None)
    assert not ExecutionEvent.objects.filter(task_run=run).exists()


# --- creating task runs --------------------------------------------------------------------


@pytest.mark.django_db
def test_task_runs_create_writes_runs_and_one_event_each():
    execution = ExecutionFactory(status=E.RUNNING)
    runs = [
        unsaved_run(execution, T.PENDING, 1),
        unsaved_run(execution, T.QUEUED, 2),
        unsaved_run(execution, T.RUNNING, 3),
    ]
    task_runs_create(runs)
    stored = {run.name: run for run in TaskRun.objects.filter(execution=execution)}
    assert {name: run.status for name, run in stored.items()} == {"s1": T.PENDING, "s2": T.QUEUED, "s3": T.RUNNING}
    assert stored["s3"].started_at is not None and stored["s2"].started_at is None
    created = ExecutionEvent.objects.filter(execution=execution, type="task_status")
    assert sorted((event.task_run.name, event.data["status"], event.data["previous"]) for event in created) == [
        ("s1", T.PENDING, None),
        ("s2", T.QUEUED, None),
        ("s3", T.RUNNING, None),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("status", sorted({*TERMINAL_TASK_STATUSES, T.WAITING, T.RETRYING}))
def test_task_runs_create_refuses_other_initial_statuses(status):
    execution = ExecutionFactory(status=E.RUNNING)
    with pytest.raises(IllegalTransition):
        task_runs_create([unsaved_run(execution, T.QUEUED, 1), unsaved_run(execution, status, 2)])
    assert not TaskRun.objects.filter(execution=execution).exists()
    assert not ExecutionEvent.objects.filter(execution=execution).exists()


def test_terminal_execution_statuses_match_the_tables():
    for status in TERMINAL_EXECUTION_STATUSES:
        assert E.RUNNING not in EXECUTION_TRANSITIONS[status]


# --- the doorbell ------------------------------------------------------------------------------


class RecordingLayer:
    """A Redis layer as the doorbell uses it: each publish recorded as its rings."""

    prefix = "test"
    hosts = [{"address": "redis://127.0.0.1:6379/3"}]

    def __init__(self) -> None:
        self.sent: list[list[tuple[str, int, bool]]] = []

    def connection(self, index: int) -> "RecordingLayer":
        return self

    async def publish(self, channel: str, data: bytes) -> None:
        assert channel == events.ring_channel(self)
        self.sent.append(events.parse_rings(data))


def test_events_are_announced_once_per_transaction_with_the_last_event(transactional_db):
    execution = ExecutionFactory(status=E.QUEUED)
    layer = RecordingLayer()
    with mock.patch.object(events, "get_channel_layer", return_value=layer), transaction.atomic():
        transition(execution, E.RUNNING)
        last = events.event_append(execution_id=execution.pk, type="log", message="hello")
        assert layer.sent == []  # nothing before the commit
    events.drain_doorbell()
    assert layer.sent == [[(events.group_name(execution.pk), last.id, False)]]


def test_events_after_a_rolled_back_transaction_are_still_announced(transactional_db):
    execution = ExecutionFactory(status=E.QUEUED)
    layer = RecordingLayer()
    with mock.patch.object(events, "get_channel_layer", return_value=layer):
        with pytest.raises(RuntimeError), transaction.atomic():
            events.event_append(execution_id=execution.pk, type="log", message="rolled back")
            raise RuntimeError("the transaction fails")
        with transaction.atomic():
            kept = events.event_append(execution_id=execution.pk, type="log", message="committed")
    events.drain_doorbell()
    assert layer.sent == [[(events.group_name(execution.pk), kept.id, False)]]


class HeldLayer(RecordingLayer):
    """Holds its first send until released, like a slow Redis."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    async def publish(self, channel: str, data: bytes) -> None:
        self.entered.set()
        while not self.release.is_set():
            await asyncio.sleep(0.001)
        await super().publish(channel, data)


def test_rings_during_a_send_in_flight_merge_into_one_with_the_latest_event():
    layer = HeldLayer()
    with mock.patch.object(events, "get_channel_layer", return_value=layer):
        events._doorbell.ring("execution-a", 1)
        assert layer.entered.wait(5)  # the first send is in flight
        events._doorbell.ring("execution-a", 3)
        events._doorbell.ring("execution-a", 2)
        events._doorbell.ring("execution-b", 7)
        layer.release.set()
        events.drain_doorbell()
    assert layer.sent == [[("execution-a", 1, False)], [("execution-a", 3, False), ("execution-b", 7, False)]]


@pytest.mark.django_db
def test_transition_sets_updated_at():
    execution = ExecutionFactory(status=E.QUEUED)
    before = timezone.now()
    transition(execution, E.RUNNING)
    assert Execution.objects.get(pk=execution.pk).updated_at >= before


def test_the_in_memory_layer_is_rung_only_for_a_group_someone_joined():
    layer = InMemoryChannelLayer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("execution-watched", channel)
    with (
        mock.patch.object(events, "get_channel_layer", return_value=layer),
        mock.patch.object(layer, "group_send", wraps=layer.group_send) as group_send,
    ):
        events._doorbell.ring("execution-unwatched", 4)  # a worker process: nobody listens there
        events._doorbell.ring("execution-watched", 5)

    assert [call.args[0] for call in group_send.call_args_list] == ["execution-watched"]
    assert async_to_sync(layer.receive)(channel) == {"type": "execution.event", "event_id": 5}
