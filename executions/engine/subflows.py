"""`flow.subflow`: start a child execution; `lifecycle.subflow_finished` wakes the parent step.

The parent's files given in the child's inputs are copied under the child (`file_copies`), as
the child's files in its outputs are copied back under the parent when it ends.
"""

import uuid

from core.errors import NotFound
from executions.engine import dispatch
from executions.engine.context import ExecutionView, render_control, render_control_redacted
from executions.engine.file_copies import FileAdopter
from executions.engine.lifecycle import child_depth, execution_create
from executions.models import Execution, TaskRun
from flows.definitions import ir
from flows.models import Flow


def subflow_start(view: ExecutionView, run: TaskRun, step: ir.Step) -> Execution:
    """Create the child execution (in the parent's namespace only) and enqueue it on commit."""
    parent = view.execution
    depth = child_depth(parent)  # before any lookup: a runaway recursion stops here
    flow_id = render_control(view, run, step, "flowId")
    name = render_control(view, run, step, "flowName") or render_control(view, run, step, "flow")
    namespace = render_control(view, run, step, "namespace") or parent.namespace.name
    flows = Flow.objects.filter(namespace=parent.namespace)
    if namespace != parent.namespace.name:
        raise NotFound(f"Subflows run in the parent's namespace; '{namespace}' is another one.")
    flow = flows.filter(pk=flow_id).first() if flow_id else flows.filter(name=name).first()
    if flow is None:
        raise NotFound(f"Subflow '{flow_id or name}' not found in namespace '{parent.namespace.name}'.")
    # The child's inputs are stored and shown like any execution's: a field a secret went
    # into arrives as MASK (a child flow reads the secret itself, from the same namespace).
    _, inputs = render_control_redacted(view, run, step, "inputs")
    child_id = uuid.uuid4()
    files = FileAdopter(namespace=parent.namespace.name, source_id=str(parent.pk), target_id=str(child_id))
    child = execution_create(
        flow=flow,
        inputs=files.adopt(inputs or {}),
        execution_id=child_id,
        origin="subflow",
        created_by=parent.created_by,
        parent_task=run,
        trigger_data={"parentExecutionId": str(parent.pk), "depth": depth},
    )
    dispatch.start_execution(str(child.pk))
    return child
