"""What follows the end of an execution: `flow` triggers of downstream flows."""

import logging

from executions.models import Execution
from flows.models import Trigger

logger = logging.getLogger("millrace.engine")


def execution_finished(execution: Execution) -> None:
    """Start each enabled `flow` trigger watching this flow for this status (same namespace only)."""
    if execution.flow_id is None:
        return
    from executions.engine import dispatch
    from executions.services import execution_create

    triggers = Trigger.objects.filter(
        type=Trigger.Type.FLOW,
        enabled=True,
        source_flow_id=execution.flow_id,
        flow__namespace_id=execution.namespace_id,
    ).select_related("flow")
    for trigger in triggers:
        if trigger.statuses and execution.status not in trigger.statuses:
            continue
        child = execution_create(
            flow=trigger.flow,
            inputs=trigger.inputs,
            origin="flow",
            trigger=trigger,
            trigger_data={
                "executionId": str(execution.pk),
                "flowId": str(execution.flow_id),
                "status": execution.status,
                "outputs": execution.outputs,
            },
        )
        dispatch.start_execution(str(child.pk))
