"""A transaction PostgreSQL chose as a deadlock's victim, run again.

Two transactions that lock the same rows in opposite orders (an operator's cancel locks the
execution and then its running steps; a worker's step writes its step and then the execution)
can each wait for the other; PostgreSQL aborts one of them. Its work was rolled back whole,
so the one that called it may simply run it again, as PostgreSQL's documentation advises.
"""

from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError, connection
from psycopg.errors import DeadlockDetected

T = TypeVar("T")


def retry_on_deadlock(work: Callable[[], T], *, attempts: int = 3) -> T:
    """`work()` (a whole transaction), run again when it was a deadlock's victim, up to
    `attempts` times; inside an enclosing transaction, which the deadlock aborted too, never."""
    for _ in range(attempts - 1):
        try:
            return work()
        except OperationalError as error:
            if not isinstance(error.__cause__, DeadlockDetected) or connection.in_atomic_block:
                raise
    return work()
