"""`flow` triggers (run when another flow ends) and `flow.subflow` steps, tenancy included."""

import pytest

from executions.engine.sweeper import sweep
from executions.models import Execution, ExecutionEvent, ExecutionStatus, TaskStatus
from executions.services import execution_cancel, execution_retry
from flows.models import Flow, Trigger
from tests.executions.engine.support import later, names_and_statuses, run_named
from tests.factories import FlowFactory, TriggerFactory

pytestmark = pytest.mark.usefixtures("eager")
E, T = ExecutionStatus, TaskStatus

SUCCEEDS = "name: {name}\ntasks:\n  - name: work\n    type: util.echo\n    properties: {value: 21}\n"
FAILS = "name: {name}\ntasks:\n  - name: work\n    type: data.json.parse\n    properties: {text: nope}\n"
SLEEPS = "name: {name}\ntasks:\n  - name: nap\n    type: util.sleep\n    properties: {seconds: 60}\n"
DOWNSTREAM = """
name: downstream
tasks:
  - name: report
    type: util.echo
    properties:
      value: "{{ trigger.status }} {{ trigger.outputs.work if trigger.outputs else '-' }} {{ inputs.tag }}"
"""


@pytest.fixture
def flows(namespace, runner_account):
    def make(name: str, source: str, *, namespace_=None) -> Flow:
        return FlowFactory(
            namespace=namespace_ or namespace,
            name=name,
            created_by=runner_account,
            source=source.replace("{name}", name),
        )

    return make


@pytest.fixture
def downstream(flows) -> Flow:
    return flows("downstream", DOWNSTREAM)


def watch(downstream: Flow, source: Flow, statuses: list[str], **fields) -> Trigger:
    return TriggerFactory(
        flow=downstream, type=Trigger.Type.FLOW, source_flow=source, statuses=statuses, inputs={"tag": "t"}, **fields
    )


def started_by(trigger: Trigger) -> list[Execution]:
    return list(Execution.objects.filter(trigger=trigger))


# --- flow triggers --------------------------------------------------------------------------------


def test_a_flow_trigger_starts_the_downstream_flow_when_the_source_succeeds(run_flow, flows, downstream):
    source = flows("source", SUCCEEDS)
    trigger = watch(downstream, source, ["SUCCESS"])
    execution = run_flow("", flow=source)
    assert execution.status == E.SUCCESS
    [child] = started_by(trigger)
    assert (child.flow_id, child.origin, child.status) == (downstream.pk, "flow", E.SUCCESS)
    assert child.trigger_data["executionId"] == str(execution.pk)
    assert child.inputs == {"tag": "t"}
    assert run_named(child, "report").outputs == "SUCCESS 21 t"


def test_a_success_trigger_does_not_fire_when_the_source_fails(run_flow, flows, downstream):
    source = flows("source", FAILS)
    trigger = watch(downstream, source, ["SUCCESS"])
    assert run_flow("", flow=source).status == E.FAILED
    assert started_by(trigger) == []
    assert not Execution.objects.filter(flow=downstream).exists()


def test_disabled_triggers_and_triggers_of_other_namespaces_do_not_fire(run_flow, flows, downstream, other_namespace):
    source = flows("source", SUCCEEDS)
    disabled = watch(downstream, source, ["SUCCESS"], enabled=False)
    foreign = watch(flows("foreign", DOWNSTREAM, namespace_=other_namespace), source, ["SUCCESS"])
    assert run_flow("", flow=source).status == E.SUCCESS
    assert started_by(disabled) == [] and started_by(foreign) == []


def test_a_trigger_fires_once_per_end_even_when_several_steps_end_together(run_flow, flows, downstream):
    source = flows(
        "source",
        """
name: {name}
tasks:
  - name: fan
    type: flow.parallel
    tasks:
      - name: a
        type: util.sleep
        timeout: 5
        properties: {seconds: 60}
      - name: b
        type: util.sleep
        timeout: 5
        properties: {seconds: 60}
""",
    )
    trigger = watch(downstream, source, ["FAILED"])
    execution = run_flow("", flow=source)
    assert sweep(now=later(10))["stepsTimedOut"] == 2  # two advances of the ending execution
    execution.refresh_from_db()
    assert execution.status == E.FAILED
    assert len(started_by(trigger)) == 1


def test_cancel_and_flow_timeout_fire_their_triggers(run_flow, flows, downstream, runner_account):
    cancelled_source = flows("cancelled", SLEEPS)
    on_cancel = watch(downstream, cancelled_source, ["CANCELLED"])
    execution_cancel(actor=runner_account, execution=run_flow("", flow=cancelled_source))
    [child] = started_by(on_cancel)
    assert run_named(child, "report").outputs == "CANCELLED - t"

    timed_source = flows("timed", "timeout: 10\n" + SLEEPS)
    on_timeout = watch(downstream, timed_source, ["TIMED_OUT"])
    run_flow("", flow=timed_source)
    sweep(now=later(20))
    [child] = started_by(on_timeout)
    assert run_named(child, "report").outputs == "TIMED_OUT - t"


def test_a_retried_source_fires_again_for_its_new_end(run_flow, flows, downstream, runner_account):
    source = flows("source", FAILS)
    trigger = watch(downstream, source, ["FAILED"])
    execution = run_flow("", flow=source)
    execution_retry(actor=runner_account, execution=execution)
    execution.refresh_from_db()
    assert (execution.status, execution.attempt) == (E.FAILED, 2)
    assert sorted(child.trigger_data["attempt"] for child in started_by(trigger)) == [1, 2]


def test_a_downstream_that_cannot_start_does_not_undo_the_source(run_flow, flows):
    strict = flows(
        "strict",
        "name: {name}\ninputs:\n  - id: needed\n    type: INT\n    required: true\n" + SUCCEEDS.split("\n", 1)[1],
    )
    source = flows("source", SUCCEEDS)
    trigger = TriggerFactory(flow=strict, type=Trigger.Type.FLOW, source_flow=source, statuses=["SUCCESS"])
    execution = run_flow("", flow=source)
    assert execution.status == E.SUCCESS
    assert run_named(execution, "work").status == T.SUCCESS
    assert started_by(trigger) == []
    [warning] = ExecutionEvent.objects.filter(execution=execution, level="warn")
    assert "strict" in warning.message


# --- subflows ------------------------------------------------------------------------------------

PARENT = """
name: parent
tasks:
  - name: call
    type: flow.subflow
    properties:
      flowName: {child}
  - name: after
    type: util.echo
    properties: {{value: never}}
"""


def test_a_failing_subflow_fails_the_parent_step(run_flow, flows):
    flows("child", FAILS)
    execution = run_flow(PARENT.format(child="child"))
    child = Execution.objects.get(parent_task__execution=execution)
    assert child.status == E.FAILED
    call = run_named(execution, "call")
    assert call.status == T.FAILED
    assert str(child.pk) in call.error and "FAILED" in call.error
    assert execution.status == E.FAILED
    assert names_and_statuses(execution) == [("call", T.FAILED)]


def test_a_subflow_of_another_namespace_is_refused(run_flow, flows, other_namespace):
    foreign = flows("foreign", SUCCEEDS, namespace_=other_namespace)
    by_namespace = run_flow(
        "name: p1\ntasks:\n  - name: call\n    type: flow.subflow\n"
        "    properties: {namespace: elsewhere, flowName: foreign}\n"
    )
    by_id = run_flow(
        f"name: p2\ntasks:\n  - name: call\n    type: flow.subflow\n    properties: {{flowId: '{foreign.pk}'}}\n"
    )
    for execution in (by_namespace, by_id):
        assert execution.status == E.FAILED
        assert run_named(execution, "call").status == T.FAILED
    assert "namespace" in run_named(by_namespace, "call").error
    assert "not found" in run_named(by_id, "call").error
    assert not Execution.objects.filter(flow=foreign).exists()


def test_cancelling_the_parent_cancels_the_running_subflow(run_flow, flows, runner_account):
    flows("sleepy", SLEEPS)
    execution = run_flow(PARENT.format(child="sleepy"))
    child = Execution.objects.get(parent_task__execution=execution)
    assert (execution.status, child.status) == (E.WAITING, E.WAITING)
    execution_cancel(actor=runner_account, execution=execution)
    child.refresh_from_db()
    assert child.status == E.CANCELLED
    assert names_and_statuses(child) == [("nap", T.CANCELLED)]
    assert sweep(now=later(120))["woken"] == 0


def test_a_subflow_cancelled_on_its_own_fails_the_parent_step(run_flow, flows, runner_account):
    flows("sleepy", SLEEPS)
    execution = run_flow(PARENT.format(child="sleepy"))
    child = Execution.objects.get(parent_task__execution=execution)
    execution_cancel(actor=runner_account, execution=child)
    execution.refresh_from_db()
    call = run_named(execution, "call")
    assert call.status == T.FAILED and "CANCELLED" in call.error
    assert execution.status == E.FAILED


def test_a_subflow_that_times_out_fails_the_parent_step(run_flow, flows):
    flows("sleepy", "timeout: 10\n" + SLEEPS)
    execution = run_flow(PARENT.format(child="sleepy"))
    sweep(now=later(20))
    execution.refresh_from_db()
    assert run_named(execution, "call").status == T.FAILED
    assert "TIMED_OUT" in run_named(execution, "call").error
    assert execution.status == E.FAILED


# --- depth limits ---------------------------------------------------------------------------------

RECURSIVE = "name: {name}\ntasks:\n  - name: call\n    type: flow.subflow\n    properties: {flowName: {name}}\n"


def test_a_subflow_calling_itself_stops_at_the_depth_limit(run_flow, flows, settings):
    settings.MILLRACE_SUBFLOW_MAX_DEPTH = 3
    loop = flows("loop", RECURSIVE)
    top = run_flow("", flow=loop)
    executions = list(Execution.objects.filter(flow=loop))
    assert sorted(e.trigger_data.get("depth", 0) for e in executions) == [0, 1, 2, 3]
    deepest = next(e for e in executions if e.trigger_data.get("depth") == 3)
    call = run_named(deepest, "call")
    assert call.status == T.FAILED and "depth" in call.error
    assert all(e.status == E.FAILED for e in executions)
    assert top.status == E.FAILED


def test_a_subflow_carries_the_parent_depth_plus_one(run_flow, flows):
    flows("child", SUCCEEDS)
    execution = run_flow(PARENT.format(child="child"))
    child = Execution.objects.get(parent_task__execution=execution)
    assert child.trigger_data["depth"] == 1
    assert child.status == E.SUCCESS


def test_a_chain_of_flow_triggers_stops_at_the_depth_limit(run_flow, flows, settings):
    settings.MILLRACE_SUBFLOW_MAX_DEPTH = 2
    ping, pong = flows("ping", SUCCEEDS), flows("pong", SUCCEEDS)
    to_pong = watch(pong, ping, ["SUCCESS"])
    to_ping = watch(ping, pong, ["SUCCESS"])
    first = run_flow("", flow=ping)
    assert first.status == E.SUCCESS
    [pong_1] = started_by(to_pong)
    [ping_2] = started_by(to_ping)
    assert (pong_1.trigger_data["depth"], ping_2.trigger_data["depth"]) == (1, 2)
    assert ping_2.status == E.SUCCESS
    assert Execution.objects.count() == 3  # ping_2 would start a third hop
    [warning] = ExecutionEvent.objects.filter(execution=ping_2, level="warn")
    assert "depth" in warning.message


def test_a_trigger_watching_its_own_flow_stops_at_the_depth_limit(run_flow, flows, settings):
    settings.MILLRACE_SUBFLOW_MAX_DEPTH = 2
    selfish = flows("selfish", SUCCEEDS)
    trigger = watch(selfish, selfish, ["SUCCESS"])  # stored directly; the services refuse it
    run_flow("", flow=selfish)
    assert sorted(e.trigger_data.get("depth", 0) for e in Execution.objects.filter(flow=selfish)) == [0, 1, 2]
    assert len(started_by(trigger)) == 2
