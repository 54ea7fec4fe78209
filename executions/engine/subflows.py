"""`flow.subflow`: start a child execution and wake the parent step when it ends."""

from django.conf import settings
from django.db import transaction

from core.errors import NotFound, ValidationFailed
from executions.engine import dispatch
from executions.engine.context import ExecutionView, render_control, render_control_redacted
from executions.engine.transitions import StaleStatus, transition
from executions.models import Execution, ExecutionStatus, TaskRun, TaskStatus
from flows.definitions import ir
from flows.models import Flow


def execution_depth(execution: Execution) -> int:
    """How deep `execution` nests under subflow steps and `flow` triggers (0 when started directly)."""
    depth = (execution.trigger_data or {}).get("depth", 0)
    return depth if isinstance(depth, int) and depth >= 0 else 0


def child_depth(parent: Execution) -> int:
    """The depth of an execution `parent` starts; refused past `MILLRACE_SUBFLOW_MAX_DEPTH`.

    A flow calling itself (or two flows triggering each other) would otherwise start
    executions without end, so every hop carries its depth and the chain stops at the limit.
    """
    depth = execution_depth(parent) + 1
    limit = settings.MILLRACE_SUBFLOW_MAX_DEPTH
    if depth > limit:
        raise ValidationFailed(f"Nesting depth {depth} exceeds MILLRACE_SUBFLOW_MAX_DEPTH ({limit}).")
    return depth


def subflow_start(view: ExecutionView, run: TaskRun, step: ir.Step) -> Execution:
    """Create the child execution (in the parent's namespace only) and enqueue it on commit."""
    from executions.services import execution_create

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
    child = execution_create(
        flow=flow,
        inputs=inputs or {},
        origin="subflow",
        created_by=parent.created_by,
        parent_task=run,
        trigger_data={"parentExecutionId": str(parent.pk), "depth": depth},
    )
    dispatch.start_execution(str(child.pk))
    return child


def subflow_finished(child: Execution) -> None:
    """End the waiting parent step like the child ended, then advance the parent execution."""
    with transaction.atomic():
        run = TaskRun.objects.select_for_update().filter(pk=child.parent_task_id).first()
        if run is None or run.status != TaskStatus.WAITING:
            return
        try:
            if child.status == ExecutionStatus.SUCCESS:
                transition(
                    run,
                    TaskStatus.SUCCESS,
                    outputs={"executionId": str(child.pk), "outputs": child.outputs},
                    message=f"Subflow execution {child.pk} succeeded",
                )
            else:
                error = f"Subflow execution {child.pk} ended {child.status}: {child.error}"
                transition(
                    run,
                    TaskStatus.FAILED,
                    error=error,
                    level="error",
                    message=error,
                    outputs={"executionId": str(child.pk)},
                )
        except StaleStatus:
            return
        dispatch.advance_execution(str(run.execution_id))
