"""Hand work to django-q2 workers, after the transaction that created it commits.

In eager mode (`MILLRACE_ENGINE_EAGER`, used by tests and `run_flow`) the work runs in
this process instead, drained from a local queue by the outermost caller so that fan-out
never recurses.
"""

import logging
import threading
from collections import deque
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import transaction

logger = logging.getLogger("millrace.engine")

_local = threading.local()


@lru_cache(maxsize=1)
def _broker() -> Any:
    """One broker connection per process: a new one per enqueue costs milliseconds."""
    from django_q.brokers import get_broker

    return get_broker()


def _enqueue(func: str, *args: Any) -> None:
    if getattr(settings, "MILLRACE_ENGINE_EAGER", False):
        queue: deque | None = getattr(_local, "queue", None)
        if queue is None:
            queue = _local.queue = deque()
        queue.append((func, args))
        if not getattr(_local, "draining", False):
            _drain(queue)
        return
    from django_q.tasks import async_task

    try:
        async_task(func, *args, broker=_broker(), q_options={"save": False}, hook=None)
    except Exception:
        # The transaction has committed: raising would only fail the caller (a 500 for a
        # started execution) and skip the transaction's other dispatches. The sweeper queues
        # work that stayed QUEUED again (`requeue_lost_dispatches`).
        logger.warning("Could not enqueue %s%r; the sweeper will queue it again", func, args, exc_info=True)


def _drain(queue: deque) -> None:
    from django.utils.module_loading import import_string

    _local.draining = True
    try:
        while queue:
            func, args = queue.popleft()
            target: Callable[..., Any] = import_string(func)
            try:
                target(*args)
            except Exception:
                logger.exception("Eager engine task %s%r failed", func, args)
    finally:
        _local.draining = False


def on_commit(func: str, *args: Any) -> None:
    """Enqueue `func(*args)` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: _enqueue(func, *args))


def run_task_runs(task_run_ids: list[str]) -> None:
    for task_run_id in task_run_ids:
        on_commit("executions.engine.runner.run_task_run", task_run_id)


def start_execution(execution_id: str, snapshot: dict[str, Any] | None = None) -> None:
    """`snapshot`: the execution as written (`rows.execution_snapshot`), saving the worker its read."""
    if snapshot is None:
        on_commit("executions.engine.runner.start_execution", execution_id)
    else:
        on_commit("executions.engine.runner.start_execution", execution_id, snapshot)


def advance_execution(execution_id: str) -> None:
    on_commit("executions.engine.runner.advance_execution", execution_id)
