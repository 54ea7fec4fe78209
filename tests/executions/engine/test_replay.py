"""Replay from a task: a new execution keeps the steps before the chosen one and runs from it."""

import pytest

from accounts.roles import Role
from core.errors import Conflict, Forbidden, NotFound
from executions.models import Execution, ExecutionEvent, ExecutionStatus, TaskRun
from executions.services import execution_replay, execution_replay_from_start
from flows.services import flow_create, flow_update
from tests.executions.engine.support import run_named
from tests.factories import AccountFactory

E = ExecutionStatus
CHAIN = """
name: chain
tasks:
  - name: a
    type: util.echo
    properties: {value: "{{ execution.id }}"}
  - name: b
    type: util.echo
    properties: {value: "b after {{ outputs.a }}"}
  - name: c
    type: util.echo
    properties: {value: "c1"}
"""
LOOP = """
name: loop
tasks:
  - name: first
    type: util.echo
    properties: {value: "{{ execution.id }}"}
  - name: each
    type: flow.forEach
    properties:
      items: "{{ [10, 20, 30] }}"
    tasks:
      - name: double
        type: util.echo
        properties: {value: "{{ item * 2 }} in {{ execution.id }}"}
  - name: after
    type: util.echo
    properties: {value: done}
"""


@pytest.fixture
def saved(runner_account, namespace):
    """Save a flow through the service, so its revisions exist."""

    def save(source: str):
        return flow_create(actor=runner_account, namespace=namespace, source=source)

    return save


def replay(runner_account, execution: Execution, step: str, **kwargs) -> Execution:
    replayed = execution_replay(
        actor=runner_account, execution=execution, task_run_id=run_named(execution, step).pk, **kwargs
    )
    replayed.refresh_from_db()
    return replayed


def test_replay_keeps_the_outputs_before_the_chosen_task_and_runs_from_it(run_flow, runner_account, saved):
    original = run_flow(CHAIN, flow=saved(CHAIN))

    again = replay(runner_account, original, "b")

    assert again.status == E.SUCCESS, again.error
    assert (again.original_id, again.origin, again.flow_revision) == (original.pk, "replay", 1)
    assert again.inputs == original.inputs
    a = run_named(again, "a")
    assert a.outputs == str(original.pk)  # kept: not run again (it would print the replay's id)
    assert a.pk != run_named(original, "a").pk
    assert run_named(again, "b").outputs == f"b after {original.pk}"
    assert again.outputs == original.outputs
    kept = ExecutionEvent.objects.filter(task_run=a).values_list("message", flat=True)
    assert list(kept) == [f"Step 'a' kept from execution {original.pk}"]


def test_replay_from_the_first_task_runs_everything_again(run_flow, runner_account, saved):
    original = run_flow(CHAIN, flow=saved(CHAIN))

    again = replay(runner_account, original, "a")

    assert again.status == E.SUCCESS
    assert run_named(again, "a").outputs == str(again.pk)


def test_replay_from_start_runs_everything_again_and_refuses_an_execution_where_nothing_ran(
    run_flow, runner_account, saved
):
    original = run_flow(CHAIN, flow=saved(CHAIN))
    again = execution_replay_from_start(actor=runner_account, execution=original)
    again.refresh_from_db()
    assert again.status == E.SUCCESS and again.original_id == original.pk
    assert run_named(again, "a").outputs == str(again.pk)

    original.task_runs.all().delete()
    with pytest.raises(Conflict, match="nothing to replay"):
        execution_replay_from_start(actor=runner_account, execution=original)


def test_replay_inside_a_loop_reopens_the_loop_and_keeps_earlier_iterations(run_flow, runner_account, saved):
    original = run_flow(LOOP, flow=saved(LOOP))
    second = TaskRun.objects.get(execution=original, name="double", loop_index=1)

    again = execution_replay(actor=runner_account, execution=original, task_run_id=second.pk)
    again.refresh_from_db()

    assert again.status == E.SUCCESS, again.error
    doubles = {r.loop_index: r.outputs for r in TaskRun.objects.filter(execution=again, name="double")}
    assert doubles == {0: f"20 in {original.pk}", 1: f"40 in {again.pk}", 2: f"60 in {again.pk}"}
    assert run_named(again, "first").outputs == str(original.pk)
    assert run_named(again, "each").status == "SUCCESS"
    assert run_named(again, "after").outputs == "done"


def test_replay_on_another_revision_runs_the_chosen_task_as_it_is_now(run_flow, runner_account, saved):
    flow = saved(CHAIN)
    original = run_flow(CHAIN, flow=flow)
    flow_update(actor=runner_account, flow=flow, source=CHAIN.replace("c1", "c2"))

    on_first = replay(runner_account, original, "c")
    on_second = replay(runner_account, original, "c", revision=2)

    assert (on_first.flow_revision, run_named(on_first, "c").outputs) == (1, "c1")
    assert (on_second.flow_revision, run_named(on_second, "c").outputs) == (2, "c2")
    assert run_named(on_second, "a").outputs == str(original.pk)


def test_a_failed_execution_is_replayed_from_its_failed_task_on_a_fixed_revision(run_flow, runner_account, saved):
    broken = CHAIN.replace('type: util.echo\n    properties: {value: "c1"}', "type: flow.fail\n    properties: {}")
    flow = saved(broken)
    original = run_flow(broken, flow=flow)
    assert original.status == E.FAILED
    flow_update(actor=runner_account, flow=flow, source=CHAIN)

    again = replay(runner_account, original, "c", revision=2)

    assert again.status == E.SUCCESS
    assert run_named(again, "b").outputs == f"b after {original.pk}"


def test_bad_replays_are_refused(run_flow, runner_account, saved, namespace):
    flow = saved(CHAIN)
    original = run_flow(CHAIN, flow=flow)
    other = run_flow(CHAIN, flow=flow)
    waiting = run_flow("name: gate\ntasks:\n  - name: ask\n    type: flow.pause\n")

    with pytest.raises(NotFound):  # a task run of another execution
        execution_replay(actor=runner_account, execution=original, task_run_id=run_named(other, "b").pk)
    with pytest.raises(NotFound):
        execution_replay(actor=runner_account, execution=original, task_run_id="not-a-uuid")
    with pytest.raises(NotFound, match="no revision 7"):
        replay(runner_account, original, "b", revision=7)
    with pytest.raises(Conflict, match="Only an ended execution"):
        replay(runner_account, waiting, "ask")
    viewer = AccountFactory(role=Role.VIEWER, default_namespace=namespace)
    with pytest.raises(Forbidden):
        replay(viewer, original, "b")
    assert not Execution.objects.filter(original__isnull=False).exists()
