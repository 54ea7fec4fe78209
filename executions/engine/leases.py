"""Keep the leases of this process's running steps alive while their plugins run.

One daemon thread per process renews every held lease every third of the lease time.
A worker that dies stops renewing; the sweeper then re-queues its steps.
"""

import logging
import threading
from datetime import timedelta
from uuid import UUID

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from executions.models import TaskRun, TaskStatus

logger = logging.getLogger("millrace.engine")

_held: set[UUID] = set()
_lock = threading.Lock()
_thread: threading.Thread | None = None


def hold(task_run_id: UUID) -> None:
    with _lock:
        _held.add(task_run_id)
        _ensure_thread()


def release(task_run_id: UUID) -> None:
    with _lock:
        _held.discard(task_run_id)


def renew() -> int:
    """Extend every held lease now; returns how many rows were renewed."""
    with _lock:
        ids = list(_held)
    if not ids:
        return 0
    until = timezone.now() + timedelta(seconds=settings.MILLRACE_LEASE_SECONDS)
    return TaskRun.objects.filter(pk__in=ids, status=TaskStatus.RUNNING).update(lease_until=until)


def _ensure_thread() -> None:
    global _thread
    if _thread is not None and _thread.is_alive():
        return
    _thread = threading.Thread(target=_keep, name="millrace-leases", daemon=True)
    _thread.start()


def _keep(stop: threading.Event | None = None) -> None:
    """Renew until `stop` is set (never, for the process's thread). Nothing it meets ends it: a
    keeper that died would let every lease of the process lapse while its steps still run."""
    interval = max(settings.MILLRACE_LEASE_SECONDS / 3, 0.5)
    stop = stop or threading.Event()
    while not stop.wait(interval):
        try:
            renew()
        except Exception:
            logger.warning("Could not renew leases", exc_info=True)
        try:
            close_old_connections()
        except Exception:
            logger.warning("Could not close the lease keeper's database connection", exc_info=True)
