"""Hand work to django-q2 workers, after the transaction that created it commits.

In eager mode (`MILLRACE_ENGINE_EAGER`, used by tests and `run_flow`) the work runs in
this process instead, drained from a local queue by the outermost caller so that fan-out
never recurses.

A start message may carry the execution just written (a snapshot) to save the worker its read;
one that cannot be pickled or is large goes as the id alone. Log lines name the task and the
id, never the arguments: they hold the execution's inputs.
"""

import logging
import pickle
import threading
import time
from collections import deque
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, OperationalError, transaction
from django.utils.module_loading import import_string
from django_q import tasks as django_q_tasks
from django_q.brokers import get_broker
from django_q.brokers.orm import ORM
from django_q.conf import Conf

logger = logging.getLogger("millrace.engine")

_local = threading.local()

#: The largest snapshot a start message carries (pickled bytes); a bigger one is read by the worker.
SNAPSHOT_MAX_BYTES = 64 * 1024


@lru_cache(maxsize=1)
def _broker() -> Any:
    """One broker connection per process: a new one per enqueue costs milliseconds."""
    return get_broker()


def _named(func: str, args: tuple[Any, ...]) -> str:
    """`func(<id>)` for log lines: the first argument is the id; the others are never logged."""
    return f"{func}({args[0]!s:.64})" if args else func


def _enqueue(func: str, *args: Any, fallback: tuple[Any, ...] | None = None) -> None:
    """Queue `func(*args)`; when the broker refuses that message, `fallback` (smaller args) once."""
    if getattr(settings, "MILLRACE_ENGINE_EAGER", False):
        queue: deque | None = getattr(_local, "queue", None)
        if queue is None:
            queue = _local.queue = deque()
        queue.append((func, args))
        if not getattr(_local, "draining", False):
            _drain(queue)
        return
    try:
        django_q_tasks.async_task(func, *args, broker=_broker(), q_options={"save": False}, hook=None)
    except Exception as error:
        if fallback is not None:
            logger.warning(
                "Could not enqueue %s with its snapshot (%s); queueing the id", _named(func, args), type(error).__name__
            )
            _enqueue(func, *fallback)
            return
        # The transaction has committed: raising would only fail the caller (a 500 for a
        # started execution) and skip the transaction's other dispatches. The sweeper queues
        # work that stayed QUEUED again (`requeue_lost_dispatches`). The message names the
        # error's type only: its text can quote the arguments.
        logger.warning(
            "Could not enqueue %s (%s); the sweeper will queue it again", _named(func, args), type(error).__name__
        )


#: Runs of an eager task whose write SQLite refused as locked: an in-memory database shared by
#: threads (tests, `run_flow` on it) answers a write that meets another thread's read at once,
#: without waiting. The task's transaction was rolled back, and engine tasks may run twice (their
#: claims are conditional), so it runs again, as a queue would deliver it again.
EAGER_LOCKED_ATTEMPTS = 5


def _drain(queue: deque) -> None:
    _local.draining = True
    try:
        while queue:
            func, args = queue.popleft()
            target: Callable[..., Any] = import_string(func)
            for attempt in range(EAGER_LOCKED_ATTEMPTS):
                try:
                    target(*args)
                except OperationalError as error:
                    if "is locked" in str(error) and attempt + 1 < EAGER_LOCKED_ATTEMPTS:
                        time.sleep(0.05 * (attempt + 1))
                        continue
                    logger.exception("Eager engine task %s failed", _named(func, args))
                except Exception:
                    logger.exception("Eager engine task %s failed", _named(func, args))
                break
    finally:
        _local.draining = False


def on_commit(func: str, *args: Any, fallback: tuple[Any, ...] | None = None) -> None:
    """Enqueue `func(*args)` once the current transaction commits (at once outside one).

    A queue kept in the same database (the ORM broker) takes the task inside the transaction
    instead: its row commits with the work it names or not at all, and on SQLite the one writer
    is taken once for both.
    """
    connection = transaction.get_connection()
    if connection.in_atomic_block and queue_in_database(connection.alias):
        _enqueue(func, *args, fallback=fallback)
        return
    transaction.on_commit(lambda: _enqueue(func, *args, fallback=fallback))


def queue_in_database(alias: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether tasks are queued as rows of database `alias` (never in eager mode)."""
    return (
        not getattr(settings, "MILLRACE_ENGINE_EAGER", False)
        and isinstance(_broker(), ORM)
        and (Conf.ORM or DEFAULT_DB_ALIAS) == alias
    )


def run_task_runs(task_run_ids: list[str]) -> None:
    for task_run_id in task_run_ids:
        on_commit("executions.engine.runner.run_task_run", task_run_id)


def start_execution(execution_id: str, snapshot: dict[str, Any] | None = None) -> None:
    """`snapshot`: the execution as written (`rows.execution_snapshot`), saving the worker its read;
    left out when it cannot travel (too big, or not picklable), and again if the broker refuses it."""
    if snapshot is None or not _travels(snapshot):
        on_commit("executions.engine.runner.start_execution", execution_id)
    else:
        on_commit("executions.engine.runner.start_execution", execution_id, snapshot, fallback=(execution_id,))


def _travels(snapshot: dict[str, Any]) -> bool:
    """Whether the snapshot pickles (as the queue message will) within SNAPSHOT_MAX_BYTES."""
    try:
        return len(pickle.dumps(snapshot, protocol=pickle.HIGHEST_PROTOCOL)) <= SNAPSHOT_MAX_BYTES
    except Exception:  # RecursionError, PicklingError, TypeError: whatever the queue could not carry
        return False


def advance_execution(execution_id: str) -> None:
    on_commit("executions.engine.runner.advance_execution", execution_id)
