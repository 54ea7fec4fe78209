"""Concurrency limits: with `limit` executions of a flow live, a start waits QUEUED (first in,
first out), ends CANCELLED or ends FAILED naming the limit; an end hands its slot on; the
sweeper hands on a slot whose handoff was lost; flows without a limit take the path they took.

`tests/system/test_concurrency_limits.py` runs 20 starts at once on PostgreSQL with real workers.
"""

from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from executions.engine import concurrency, runner
from executions.engine.sweeper import sweep
from executions.models import Approval, Execution, ExecutionEvent, ExecutionStatus, TaskRun, TaskStatus
from executions.services import (
    approval_decide,
    execution_cancel,
    execution_pause,
    execution_resume,
    execution_retry,
    execution_start,
)
from tests.executions.engine.support import later
from tests.factories import FlowFactory

pytestmark = pytest.mark.usefixtures("eager")
E, T = ExecutionStatus, TaskStatus


def gated(behavior: str = "QUEUE", limit: int = 2) -> str:
    """A flow whose executions stay WAITING (holding a slot) until their approval is decided."""
    return f"""
name: gated
concurrency:
  limit: {limit}
  behavior: {behavior}
tasks:
  - name: ask
    type: flow.pause
  - name: done
    type: util.echo
    properties: {{value: ok}}
"""


@pytest.fixture
def start(runner_account, namespace):
    flows = {}

    def start_one(source: str) -> Execution:
        flow = flows.get(source) or flows.setdefault(
            source, FlowFactory(namespace=namespace, source=source, created_by=runner_account)
        )
        execution = execution_start(actor=runner_account, flow=flow)
        execution.refresh_from_db()
        return execution

    return start_one


def approve(execution: Execution, account) -> None:
    approval = Approval.objects.get(execution=execution, status=Approval.Status.PENDING)
    approval_decide(actor=account, approval=approval, approve=True)


def statuses(*executions: Execution) -> list[str]:
    return [Execution.objects.get(pk=execution.pk).status for execution in executions]


def test_queue_waits_and_starts_the_oldest_when_a_slot_frees(start, runner_account):
    first, second, third, fourth = (start(gated()) for _ in range(4))

    assert statuses(first, second, third, fourth) == [E.WAITING, E.WAITING, E.QUEUED, E.QUEUED]
    third.refresh_from_db()
    assert third.waiting_for_slot and third.started_at is None
    event = ExecutionEvent.objects.filter(execution=third, type="log").get()
    assert event.message == "Waiting for a concurrency slot: 2 of 2 running"

    approve(second, runner_account)  # second ends: its slot goes to third (the oldest waiting), not fourth
    assert statuses(second, third, fourth) == [E.SUCCESS, E.WAITING, E.QUEUED]
    third.refresh_from_db()
    assert not third.waiting_for_slot

    approve(first, runner_account)
    assert statuses(first, fourth) == [E.SUCCESS, E.WAITING]
    approve(third, runner_account)
    approve(fourth, runner_account)
    assert statuses(first, second, third, fourth) == [E.SUCCESS] * 4


def test_cancel_ends_a_start_beyond_the_limit_at_once(start, runner_account):
    first = start(gated("CANCEL", 1))
    refused = start(gated("CANCEL", 1))

    assert statuses(first, refused) == [E.WAITING, E.CANCELLED]
    refused.refresh_from_db()
    assert refused.error == "Cancelled: the flow's concurrency limit of 1 is reached (1 running)"
    assert not refused.task_runs.exists()
    approve(first, runner_account)
    assert start(gated("CANCEL", 1)).status == E.WAITING  # the slot is free again


def test_fail_ends_a_start_beyond_the_limit_failed_naming_the_limit(start):
    first, second = start(gated("FAIL")), start(gated("FAIL"))
    refused = start(gated("FAIL"))

    assert statuses(first, second, refused) == [E.WAITING, E.WAITING, E.FAILED]
    refused.refresh_from_db()
    assert refused.error == "Not started: the flow's concurrency limit of 2 is reached (2 running)"
    assert refused.finished_at is not None and refused.started_at is None


def test_cancelling_a_queued_execution_takes_it_out_of_the_queue(start, runner_account):
    first = start(gated(limit=1))
    waiting, behind = start(gated(limit=1)), start(gated(limit=1))
    assert statuses(waiting, behind) == [E.QUEUED, E.QUEUED]

    execution_cancel(actor=runner_account, execution=waiting)
    approve(first, runner_account)

    assert statuses(first, waiting, behind) == [E.SUCCESS, E.CANCELLED, E.WAITING]


def test_a_paused_execution_keeps_its_slot_and_one_paused_before_it_started_holds_none(start, runner_account):
    first = start(gated(limit=1))
    waiting = start(gated(limit=1))
    execution_pause(actor=runner_account, execution=first)
    assert start(gated(limit=1)).status == E.QUEUED  # first still holds the slot while PAUSED

    execution_pause(actor=runner_account, execution=waiting)  # never started: holds nothing
    execution_resume(actor=runner_account, execution=waiting)
    assert statuses(waiting) == [E.QUEUED]


FAILING_AFTER_GATE = """
name: failing-after-gate
concurrency: {limit: 1}
tasks:
  - name: ask
    type: flow.pause
  - name: parse
    type: data.json.parse
    properties: {text: "not json"}
"""


def test_a_retried_execution_waits_for_a_slot_before_its_steps_run_again(start, runner_account):
    retried = start(FAILING_AFTER_GATE)
    approve(retried, runner_account)
    assert statuses(retried) == [E.FAILED]
    holder = start(FAILING_AFTER_GATE)  # holds the one slot, WAITING at its gate

    execution_retry(actor=runner_account, execution=retried)

    parse = TaskRun.objects.get(execution=retried, name="parse")
    assert statuses(retried) == [E.QUEUED] and (parse.status, parse.attempt) == (T.QUEUED, 1)
    approve(holder, runner_account)  # the holder fails at its parse step: the slot goes to the retried one
    parse.refresh_from_db()
    assert statuses(holder, retried) == [E.FAILED, E.FAILED] and (parse.status, parse.attempt) == (T.FAILED, 2)


def test_the_sweeper_hands_on_a_slot_whose_handoff_was_lost(start, runner_account):
    first = start(gated(limit=1))
    waiting = start(gated(limit=1))
    with mock.patch.object(concurrency.dispatch, "start_execution"):  # the ending worker died before the enqueue
        approve(first, runner_account)
    assert statuses(first, waiting) == [E.SUCCESS, E.QUEUED]

    assert sweep(now=later(1))["slotsHandedOn"] == 0  # the handoff may still be on its way
    assert sweep(now=later(concurrency.SLOT_GRACE_SECONDS + 1))["slotsHandedOn"] == 1
    assert statuses(waiting) == [E.WAITING]


def test_the_sweeper_neither_starts_nor_re_dispatches_executions_waiting_while_the_flow_is_full(start, settings):
    settings.MILLRACE_REDISPATCH_SECONDS = 60
    start(gated(limit=1))
    waiting = start(gated(limit=1))

    result = sweep(now=later(600))

    assert result["slotsHandedOn"] == 0 and result["redispatched"] == 0
    assert statuses(waiting) == [E.QUEUED]


def test_a_younger_start_does_not_take_the_slot_an_older_queued_execution_waits_for(start, runner_account):
    first = start(gated(limit=1))
    older, younger = start(gated(limit=1)), start(gated(limit=1))
    with mock.patch.object(concurrency.dispatch, "start_execution"):  # the handoff is still on its way
        approve(first, runner_account)

    runner.start_execution(str(younger.pk))  # a duplicate message of the younger one comes first
    assert statuses(older, younger) == [E.QUEUED, E.QUEUED]
    runner.start_execution(str(older.pk))
    assert statuses(older, younger) == [E.WAITING, E.QUEUED]
    assert ExecutionEvent.objects.filter(execution=younger, type="log").count() == 1  # why it waits: said once


def test_a_flow_without_a_limit_takes_no_lock_and_no_count(run_flow):
    source = "name: free\ntasks:\n  - {name: a, type: util.echo, properties: {value: 1}}\n"
    with CaptureQueriesContext(connection) as captured:
        execution = run_flow(source)
    assert execution.status == E.SUCCESS
    assert not [q["sql"] for q in captured.captured_queries if "FOR NO KEY UPDATE" in q["sql"] or "COUNT(" in q["sql"]]
