"""`manage.py worker` registers the engine's schedules once, however many workers start together,
and sweeps: due timers every interval, the rest about once a second."""

import threading
import time
from unittest import mock

import pytest
from django.db import connection, connections
from django.utils.module_loading import import_string
from django_q.models import Schedule

from executions.management.commands import worker
from executions.management.commands.worker import SCHEDULES, ensure_schedules


def _registered() -> dict[str, tuple[str, int]]:
    return {name: (func, minutes) for name, func, minutes in Schedule.objects.values_list("name", "func", "minutes")}


@pytest.mark.django_db
def test_schedules_are_registered_once():
    ensure_schedules()
    ensure_schedules()
    assert Schedule.objects.count() == len(SCHEDULES)
    assert _registered() == {name: (func, minutes) for name, func, minutes in SCHEDULES}


@pytest.mark.django_db
def test_duplicates_left_by_an_earlier_race_are_removed_and_the_schedule_updated():
    name, func, _ = SCHEDULES[0]
    for _ in range(3):
        Schedule.objects.create(name=name, func="old.func", schedule_type=Schedule.MINUTES, minutes=9)
    ensure_schedules()
    assert Schedule.objects.filter(name=name).count() == 1
    assert _registered()[name] == (func, 1)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the in-memory test SQLite locks tables between threads; files serialise"
)
@pytest.mark.django_db(transaction=True)
def test_workers_starting_together_create_each_schedule_once():
    starters = 6
    barrier = threading.Barrier(starters)
    errors: list[BaseException] = []

    def start_worker() -> None:
        try:
            barrier.wait()
            ensure_schedules()
        except BaseException as error:  # reported below: a thread's exception is otherwise lost
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=start_worker) for _ in range(starters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert Schedule.objects.count() == len(SCHEDULES)


def test_the_sweeper_looks_for_due_timers_every_interval_and_sweeps_fully_about_once_a_second():
    stop = threading.Event()
    with (
        mock.patch.object(worker, "sweep") as full,
        mock.patch.object(worker, "wake_due_steps") as timers,
        mock.patch.object(worker, "close_old_connections"),
    ):
        thread = threading.Thread(target=worker.sweep_forever, args=(stop, 0.05))
        thread.start()
        time.sleep(2.5)
        stop.set()
        thread.join(5)

    assert 2 <= full.call_count <= 3  # on the first tick, then about 1 s and 2 s later
    assert timers.call_count >= 20  # every 0.05 s in between


def test_every_schedule_names_a_function_that_exists():
    """django-q2 stores `func` as a dotted path: a moved function must be renamed here, and
    `ensure_schedules` rewrites the row of an existing database at the next worker start."""
    for _name, func, _minutes in SCHEDULES:
        assert callable(import_string(func)), func
