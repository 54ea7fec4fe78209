"""Run a django-q2 cluster plus the engine's sweeper (timers, back-offs, leases, timeouts).

Use this instead of `qcluster` on worker machines. Sweeping every fraction of a second
makes a 2-second retry back-off take about 2 seconds; a django-q2 schedule also runs the
sweep every minute, as a backstop for clusters started with plain `qcluster`.
"""

import logging
import threading

from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django_q.cluster import Cluster
from django_q.models import Schedule

from executions.engine.sweeper import sweep

logger = logging.getLogger("millrace.engine")
SWEEP_SCHEDULE = "millrace: engine sweep"


def ensure_schedules() -> None:
    """The engine sweep, the schedule-trigger and agent ticks every minute; the message purge (idempotent)."""
    for name, func in (
        (SWEEP_SCHEDULE, "executions.engine.sweeper.sweep"),
        ("millrace: schedule triggers", "flows.scheduling.fire_due_schedules"),
        ("millrace: agent schedules", "executions.agents.runtime.tick"),
    ):
        Schedule.objects.update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": Schedule.MINUTES, "minutes": 1, "repeats": -1},
        )
    Schedule.objects.update_or_create(
        name="millrace: expired agent messages",
        defaults={
            "func": "executions.agents.runtime.purge_expired",
            "schedule_type": Schedule.MINUTES,
            "minutes": 5,
            "repeats": -1,
        },
    )


def sweep_forever(stop: threading.Event, interval: float) -> None:
    while not stop.wait(interval):
        try:
            sweep()
        except Exception:
            logger.exception("Engine sweep failed")
        finally:
            close_old_connections()


class Command(BaseCommand):
    help = "Run task workers (django-q2 cluster) with the engine sweeper."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--sweep-interval", type=float, default=0.25, help="Seconds between sweeps.")

    def handle(self, *args, sweep_interval: float, **options) -> None:
        ensure_schedules()
        stop = threading.Event()
        thread = threading.Thread(
            target=sweep_forever, args=(stop, sweep_interval), name="millrace-sweeper", daemon=True
        )
        thread.start()
        cluster = Cluster()
        try:
            cluster.start()  # returns once the sentinel runs; SIGTERM/SIGINT stop it via its handlers
            while cluster.sentinel.is_alive():
                cluster.sentinel.join(0.5)
        finally:
            stop.set()
