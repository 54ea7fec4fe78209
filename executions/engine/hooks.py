"""What follows the end of an execution: the callback owed to a RunFlow caller, `flow` triggers
of downstream flows.

`execution_finished` may be called more than once for one end (every advance of an ended
execution reports it finished, and a cancel or flow timeout reports it too), so each trigger
starts at most one downstream execution per source execution and attempt. Callers hold the
source execution's row lock, which serialises those checks. A downstream flow that cannot
start (a definition that no longer compiles, inputs it refuses) is reported as a warning on
the source execution and never undoes the source's own end. Each downstream execution
carries the source's depth + 1 (shared with subflows), so flows that trigger each other stop
at `MILLRACE_SUBFLOW_MAX_DEPTH` with a warning instead of chaining forever.
"""

import logging

from django.db import connection, transaction

from core.errors import ValidationFailed
from executions.engine.callbacks import callback_owed
from executions.engine.events import event_append
from executions.engine.subflows import child_depth
from executions.engine.writes import pending as pending_writes
from executions.models import Execution, ExecutionEvent
from flows.models import Trigger

logger = logging.getLogger("millrace.engine")


def _watched(flow_id: object) -> bool:
    """Whether an enabled `flow` trigger watches the flow. Most flows have none: a step that
    ends its execution in one statement makes that statement require it (a watched flow then
    falls back to the step's careful path, which fires its triggers); otherwise one short
    statement (prepared on PostgreSQL) asks, sparing the trigger query's compilation."""
    meta, quote = Trigger._meta, connection.ops.quote_name
    source, type_, enabled = (meta.get_field(name) for name in ("source_flow", "type", "enabled"))
    exists = (
        f"EXISTS (SELECT 1 FROM {quote(meta.db_table)} WHERE {quote(source.column)} = %s"
        f" AND {quote(type_.column)} = %s AND {quote(enabled.column)})"
    )
    params = [source.get_db_prep_value(flow_id, connection), Trigger.Type.FLOW.value]
    writes = pending_writes()
    if writes is not None and writes.require(f"NOT {exists}", params):
        return False
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {exists}", params)
        return bool(cursor.fetchone()[0])


def execution_finished(execution: Execution) -> None:
    """Start each enabled `flow` trigger watching this flow for this status (same namespace only)."""
    callback_owed(execution)  # a connector proxy caller waiting on millrace/RunFlow
    if execution.flow_id is None or not execution.is_terminal or not _watched(execution.flow_id):
        return
    from executions.engine import dispatch
    from executions.services import execution_create

    triggers = Trigger.objects.filter(
        type=Trigger.Type.FLOW,
        enabled=True,
        source_flow_id=execution.flow_id,
        flow__namespace_id=execution.namespace_id,
    ).select_related("flow")
    too_deep: ValidationFailed | None = None
    try:
        depth = child_depth(execution)
    except ValidationFailed as exc:
        depth, too_deep = 0, exc
    for trigger in triggers:
        if trigger.statuses and execution.status not in trigger.statuses:
            continue
        fired = Execution.objects.filter(
            trigger=trigger, trigger_data__executionId=str(execution.pk), trigger_data__attempt=execution.attempt
        )
        if fired.exists():
            continue
        if too_deep is not None:
            if not ExecutionEvent.objects.filter(
                execution_id=execution.pk, data__triggerId=str(trigger.pk), data__attempt=execution.attempt
            ).exists():  # warn once per end although this end may be reported several times
                event_append(
                    execution_id=execution.pk,
                    type="log",
                    level="warn",
                    message=f"Flow trigger of '{trigger.flow.name}' not started: {too_deep.message}",
                    data={"triggerId": str(trigger.pk), "flowId": str(trigger.flow_id), "attempt": execution.attempt},
                )
            continue
        try:
            with transaction.atomic():
                child = execution_create(
                    flow=trigger.flow,
                    inputs=trigger.inputs,
                    origin="flow",
                    trigger=trigger,
                    trigger_data={
                        "executionId": str(execution.pk),
                        "attempt": execution.attempt,
                        "flowId": str(execution.flow_id),
                        "status": execution.status,
                        "outputs": execution.outputs,
                        "depth": depth,
                    },
                )
        except Exception as exc:
            logger.warning("Flow trigger %s could not start flow %s", trigger.pk, trigger.flow_id, exc_info=True)
            event_append(
                execution_id=execution.pk,
                type="log",
                level="warn",
                message=f"Flow trigger of '{trigger.flow.name}' could not start it: {exc}",
                data={"triggerId": str(trigger.pk), "flowId": str(trigger.flow_id)},
            )
            continue
        dispatch.start_execution(str(child.pk))
