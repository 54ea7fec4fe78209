"""Run a django-q2 cluster plus the engine's sweeper (timers, back-offs, leases, timeouts).

Use this instead of `qcluster` on worker machines. Looking for due timers every fraction of
a second makes a 2-second retry back-off take about 2 seconds; the rest of the sweep runs
about once a second. A django-q2 schedule also runs the sweep every minute, as a backstop
for clusters started with plain `qcluster`.
"""

import logging
import threading
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from django_q.cluster import Cluster
from django_q.models import Schedule

from executions.engine.sweeper import sweep, wake_due_steps

logger = logging.getLogger("millrace.engine")
SWEEP_SCHEDULE = "millrace: engine sweep"


#: (name, function, every so many minutes) of the schedules every worker makes sure exist.
SCHEDULES = (
    (SWEEP_SCHEDULE, "executions.engine.sweeper.sweep", 1),
    ("millrace: schedule triggers", "executions.triggers.fire_due_schedules", 1),
    ("millrace: agent schedules", "agents.runtime.tick", 1),
    ("millrace: expired agent messages", "agents.runtime.purge_expired", 5),
)
#: Key of the PostgreSQL advisory lock that serialises workers starting at the same time.
SCHEDULES_LOCK = 0x6D696C6C  # "mill"


def ensure_schedules() -> None:
    """Create or update the engine's schedules (idempotent, safe for workers starting together).

    `name` is not unique in django-q2's table, so two workers creating the same schedule at
    once would both insert it, and every later start would fail on the duplicate: starts are
    serialised (SQLite serialises writers itself), and duplicates an unserialised start left
    behind are removed."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEDULES_LOCK])
        for name, func, minutes in SCHEDULES:
            duplicates = Schedule.objects.filter(name=name).order_by("pk").values_list("pk", flat=True)[1:]
            Schedule.objects.filter(pk__in=list(duplicates)).delete()
            Schedule.objects.update_or_create(
                name=name,
                defaults={"func": func, "schedule_type": Schedule.MINUTES, "minutes": minutes, "repeats": -1},
            )


#: Seconds between full sweeps; due timers and back-offs are looked for every `--sweep-interval`.
FULL_SWEEP_SECONDS = 1.0


def sweep_forever(stop: threading.Event, interval: float) -> None:
    """Due timers and back-offs every `interval`; the rest of a sweep (lapsed leases, lost queue
    messages, timeouts, callbacks, whose deadlines are seconds apart) about once a second: a full
    sweep is a dozen statements, and four a second took a busy worker machine's CPU for nothing."""
    last_full = float("-inf")
    while not stop.wait(interval):
        try:
            if time.monotonic() - last_full >= FULL_SWEEP_SECONDS:
                last_full = time.monotonic()
                sweep()
            else:
                wake_due_steps(timezone.now())
        except Exception:
            logger.exception("Engine sweep failed")
        finally:
            close_old_connections()


class Command(BaseCommand):
    help = "Run task workers (django-q2 cluster) with the engine sweeper."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--sweep-interval", type=float, default=0.25, help="Seconds between looks for due timers and back-offs."
        )

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
