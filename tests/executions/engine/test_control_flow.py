"""Control constructs of the tasks format and the nodes graph, through the real engine."""

import pytest

from executions.models import Approval, Execution, ExecutionStatus, TaskStatus

pytestmark = pytest.mark.usefixtures("eager")
E, T = ExecutionStatus, TaskStatus


def runs_by_name(execution: Execution) -> dict[str, list]:
    result: dict[str, list] = {}
    for run in execution.task_runs.order_by("sequence"):
        result.setdefault(run.name, []).append(run)
    return result


def test_if_takes_the_branch_its_condition_chooses(run_flow):
    source = """
name: branch
inputs:
  - id: n
    type: INT
tasks:
  - name: check
    type: flow.if
    properties:
      condition: "{{ inputs.n > 5 }}"
    then:
      - name: big
        type: util.echo
        properties: {value: big}
    else:
      - name: small
        type: util.echo
        properties: {value: small}
  - name: after
    type: util.echo
    properties: {value: "{{ outputs.get('big') or outputs.small }}"}
"""
    big = run_flow(source, {"n": 9}, name="branch-a")
    assert big.status == E.SUCCESS, big.error
    assert set(runs_by_name(big)) == {"check", "big", "after"}
    small = run_flow(source, {"n": "2"}, name="branch-b")
    assert small.status == E.SUCCESS, small.error
    assert set(runs_by_name(small)) == {"check", "small", "after"}
    assert runs_by_name(small)["after"][0].outputs == "small"


def test_switch_picks_a_case_or_default(run_flow):
    source = """
name: sw
tasks:
  - name: route
    type: flow.switch
    properties:
      value: "{{ inputs.kind }}"
    cases:
      a:
        - name: on-a
          type: util.echo
          properties: {value: 1}
    defaults:
      - name: other
        type: util.echo
        properties: {value: 2}
"""
    assert "on-a" in runs_by_name(run_flow(source, {"kind": "a"}, name="sw1"))
    assert "other" in runs_by_name(run_flow(source, {"kind": "zzz"}, name="sw2"))


def test_for_each_runs_every_item_with_item_and_index(run_flow):
    execution = run_flow("""
name: loop
tasks:
  - name: each
    type: flow.forEach
    properties:
      items: "{{ [10, 20, 30] }}"
      concurrency: 2
    tasks:
      - name: double
        type: util.echo
        properties: {value: "{{ item * 2 }}-{{ index }}"}
""")
    assert execution.status == E.SUCCESS, execution.error
    doubles = runs_by_name(execution)["double"]
    assert sorted((r.loop_index, r.outputs) for r in doubles) == [(0, "20-0"), (1, "40-1"), (2, "60-2")]
    each = runs_by_name(execution)["each"][0]
    assert [it["double"] for it in each.outputs["iterations"]] == ["20-0", "40-1", "60-2"]


def test_parallel_runs_all_children_and_sequential_keeps_order(run_flow):
    execution = run_flow("""
name: par
tasks:
  - name: fan
    type: flow.parallel
    tasks:
      - name: left
        type: util.echo
        properties: {value: L}
      - name: right
        type: flow.sequential
        tasks:
          - name: r1
            type: util.echo
            properties: {value: R1}
          - name: r2
            type: util.echo
            properties: {value: "{{ outputs.r1 }}+R2"}
  - name: join
    type: util.echo
    properties: {value: "{{ outputs.left }}/{{ outputs.r2 }}"}
""")
    assert execution.status == E.SUCCESS, execution.error
    assert runs_by_name(execution)["join"][0].outputs == "L/R1+R2"


def test_fail_ends_the_flow_and_errors_handlers_run(run_flow):
    execution = run_flow(
        """
name: failing
tasks:
  - name: boom
    type: flow.fail
    properties:
      message: "broken {{ inputs.why }}"
  - name: never
    type: util.echo
    properties: {value: x}
errors:
  - name: cleanup
    type: util.echo
    properties: {value: cleaned}
""",
        {"why": "input"},
    )
    assert execution.status == E.FAILED
    assert "broken input" in execution.error
    names = runs_by_name(execution)
    assert "never" not in names and names["cleanup"][0].status == T.SUCCESS


def test_approval_gate_waits_then_continues_when_approved(run_flow, runner_account):
    from executions.services import approval_decide

    execution = run_flow("""
name: gate
tasks:
  - name: ask
    type: flow.pause
    properties: {message: "ok?"}
  - name: go
    type: util.echo
    properties: {value: "{{ outputs.ask.decidedBy }}"}
""")
    assert execution.status == E.WAITING
    approval = Approval.objects.get(execution=execution)
    approval_decide(actor=runner_account, approval=approval, approve=True, comment="fine")
    execution.refresh_from_db()
    assert execution.status == E.SUCCESS
    assert runs_by_name(execution)["go"][0].outputs == runner_account.username


def test_rejected_gate_fails_naming_who_and_why(run_flow, runner_account):
    from executions.services import approval_decide

    execution = run_flow("name: gate2\ntasks:\n  - name: ask\n    type: flow.pause\n")
    approval_decide(
        actor=runner_account, approval=Approval.objects.get(execution=execution), approve=False, comment="not today"
    )
    execution.refresh_from_db()
    assert execution.status == E.FAILED
    assert runner_account.username in execution.error and "not today" in execution.error


def test_subflow_runs_a_child_and_takes_its_outputs(run_flow, namespace, runner_account):
    from tests.factories import FlowFactory

    FlowFactory(
        namespace=namespace,
        name="child",
        created_by=runner_account,
        source="""
name: child
tasks:
  - name: answer
    type: util.echo
    properties: {value: "{{ inputs.q }}!"}
""",
    )
    execution = run_flow("""
name: parent
tasks:
  - name: call
    type: flow.subflow
    properties:
      namespace: production
      flowName: child
      inputs: {q: hi}
  - name: use
    type: util.echo
    properties: {value: "{{ outputs.call.outputs.answer }}"}
""")
    assert execution.status == E.SUCCESS, execution.error
    assert runs_by_name(execution)["use"][0].outputs == "hi!"
    child = Execution.objects.get(parent_task__execution=execution)
    assert child.status == E.SUCCESS and child.origin == "subflow"


def test_nodes_graph_follows_next_and_error_routes(run_flow):
    execution = run_flow("""
metadata:
  name: graph
  version: "1.0.0"
nodes:
  start:
    type: data.json.parse
    params:
      text: "not json"
    next:
      default: fine
      error: recover
  fine:
    type: util.echo
    params: {value: fine}
  recover:
    type: util.echo
    params: {value: recovered}
""")
    assert execution.status == E.SUCCESS, execution.error
    names = runs_by_name(execution)
    assert names["start"][0].status == T.FAILED and "fine" not in names
    assert execution.outputs == "recovered"


def test_graph_cycles_are_bounded_by_the_step_limit(run_flow, settings):
    settings.MILLRACE_STEP_LIMIT = 7
    execution = run_flow("""
nodes:
  start:
    type: util.echo
    params: {value: 1}
    next: again
  again:
    type: util.echo
    params: {value: 2}
    next: start
""")
    assert execution.status == E.FAILED
    assert "more than 7 steps" in execution.error
    assert execution.task_runs.count() == 7


def test_graph_condition_node_routes_on_true_false(run_flow):
    execution = run_flow(
        """
nodes:
  start:
    type: flow.if
    params: {condition: "{{ inputs.go }}"}
    next: {"true": high, "false": low}
  high:
    type: util.echo
    params: {value: Y}
  low:
    type: util.echo
    params: {value: N}
""",
        {"go": False},
    )
    assert execution.status == E.SUCCESS, execution.error
    assert execution.outputs == "N"
