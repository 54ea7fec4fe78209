"""A long flow's steps do not each pay for every step before them where they need not: a step
without templates builds no template context."""

from unittest import mock

import pytest

from executions.engine.context import ExecutionView
from executions.models import ExecutionStatus

pytestmark = pytest.mark.usefixtures("eager")


def flow(steps: int, template_at: int | None = None) -> str:
    tasks = "".join(
        f"  - name: s{i}\n    type: util.echo\n    properties: {{value: "
        + ("'{{ outputs.s1 + outputs.s28 }}'" if i == template_at else str(i))
        + "}\n"
        for i in range(steps)
    )
    return f"name: long\ntasks:\n{tasks}"


def test_steps_without_templates_never_gather_the_outputs_before_them(run_flow):
    with mock.patch.object(ExecutionView, "outputs_for", autospec=True, side_effect=ExecutionView.outputs_for) as spy:
        execution = run_flow(flow(30))
    assert execution.status == ExecutionStatus.SUCCESS, execution.error
    assert spy.call_count == 0


def test_a_step_with_a_template_still_sees_every_earlier_output(run_flow):
    with mock.patch.object(ExecutionView, "outputs_for", autospec=True, side_effect=ExecutionView.outputs_for) as spy:
        execution = run_flow(flow(30, template_at=29))
    assert execution.status == ExecutionStatus.SUCCESS, execution.error
    assert spy.call_count == 1
    assert execution.task_runs.get(name="s29").outputs == 29  # s1's 1 and s28's 28
