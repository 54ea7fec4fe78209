"""A deadlock's victim runs again (core/deadlocks.py); other errors, and work inside an
enclosing transaction, do not."""

import pytest
from django.db import OperationalError, transaction
from psycopg.errors import DeadlockDetected

from core.deadlocks import retry_on_deadlock


def failing(times: int, cause: Exception) -> tuple[list[int], object]:
    calls: list[int] = []

    def work() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise OperationalError("deadlock detected") from cause
        return "done"

    return calls, work


def test_a_deadlock_victim_runs_again_until_it_succeeds():
    calls, work = failing(2, DeadlockDetected())
    assert retry_on_deadlock(work, attempts=3) == "done"
    assert len(calls) == 3


def test_after_its_attempts_the_deadlock_is_raised():
    calls, work = failing(3, DeadlockDetected())
    with pytest.raises(OperationalError):
        retry_on_deadlock(work, attempts=3)
    assert len(calls) == 3


def test_other_operational_errors_are_raised_at_once():
    calls, work = failing(1, ValueError("something else"))
    with pytest.raises(OperationalError):
        retry_on_deadlock(work)
    assert len(calls) == 1


@pytest.mark.django_db
def test_inside_an_enclosing_transaction_it_is_not_run_again():
    calls, work = failing(1, DeadlockDetected())
    with pytest.raises(OperationalError), transaction.atomic():
        retry_on_deadlock(work)
    assert len(calls) == 1
