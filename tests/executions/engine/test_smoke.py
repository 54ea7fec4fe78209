import pytest

from executions.models import ExecutionStatus, TaskStatus


@pytest.mark.usefixtures("eager")
def test_sequential_tasks_flow_succeeds(run_flow):
    execution = run_flow(
        """
name: smoke
inputs:
  - id: who
    type: STRING
    defaults: world
tasks:
  - name: hello
    type: util.log
    properties:
      message: "Hello {{ inputs.who }}"
  - name: shape
    type: data.transform
    properties:
      data: {"a": [1, 2, 3]}
      expression: "a[1]"
"""
    )
    assert execution.status == ExecutionStatus.SUCCESS, execution.error
    runs = list(execution.task_runs.order_by("sequence"))
    assert [r.name for r in runs] == ["hello", "shape"]
    assert all(r.status == TaskStatus.SUCCESS for r in runs)
    print(runs[1].outputs, execution.outputs)
