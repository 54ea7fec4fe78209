"""Approvals move through the transition table like executions and task runs: decided once,
conditionally on the status seen, by `transition()` only."""

from itertools import product

import pytest
from django.db import transaction

from executions.engine.transitions import (
    APPROVAL_TRANSITIONS,
    IllegalTransition,
    StaleStatus,
    approval_close_pending,
    transition,
)
from executions.models import Approval
from tests.factories import ApprovalFactory

A = Approval.Status


def test_the_table_decides_a_pending_approval_once():
    assert {
        A.PENDING: frozenset({A.APPROVED, A.REJECTED}),
        A.APPROVED: frozenset(),
        A.REJECTED: frozenset(),
    } == APPROVAL_TRANSITIONS


@pytest.mark.parametrize("decided", [A.APPROVED, A.REJECTED])
def test_a_pending_approval_is_decided_with_its_fields(db, decided, runner_account):
    approval = ApprovalFactory()
    with transaction.atomic():
        transition(approval, decided, decided_by=runner_account, comment="ok")
    approval.refresh_from_db()
    assert (approval.status, approval.decided_by, approval.comment) == (decided, runner_account, "ok")


@pytest.mark.parametrize(("current", "target"), [(a, b) for a, b in product(A.values, A.values) if a != A.PENDING])
def test_a_decided_approval_is_never_decided_again(db, current, target):
    approval = ApprovalFactory(status=current)
    with pytest.raises(IllegalTransition), transaction.atomic():
        transition(approval, target)
    approval.refresh_from_db()
    assert approval.status == current


def test_a_decision_on_a_stale_read_loses(db):
    approval = ApprovalFactory()
    Approval.objects.filter(pk=approval.pk).update(status=A.REJECTED)  # another request decided first
    with pytest.raises(StaleStatus), transaction.atomic():
        transition(approval, A.APPROVED)
    approval.refresh_from_db()
    assert approval.status == A.REJECTED


def test_closing_a_step_rejects_only_a_pending_approval(db):
    pending, approved = ApprovalFactory(), ApprovalFactory(status=A.APPROVED)
    assert approval_close_pending(pending.task_run, A.REJECTED, comment="Execution cancelled") == 1
    assert approval_close_pending(approved.task_run, A.REJECTED, comment="Execution cancelled") == 0
    pending.refresh_from_db()
    approved.refresh_from_db()
    assert (pending.status, pending.comment, approved.status) == (A.REJECTED, "Execution cancelled", A.APPROVED)
    with pytest.raises(IllegalTransition):
        approval_close_pending(pending.task_run, A.PENDING)
