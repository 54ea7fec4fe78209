"""An execution's life around the walk: how one is created, how it is ended from outside, and
what follows its end.

What follows an end, in this order: the waiting parent step of a subflow ends like the child,
the callback owed to the caller is recorded (`callbacks`), and `flow` triggers watching the
flow start downstream executions. Two paths report an end here:

- the worker, after a walk ended the execution (`execution_finished`);
- a cancel or a flow timeout (`execution_end`): the transition, then the active steps and the
  live subflow executions end with it, then `execution_finished`.

`execution_finished` may run more than once for one end (every advance of an ended execution
reports it, and a cancel or flow timeout reports it too), so each trigger starts at most one
downstream execution per source execution and attempt, and a callback is owed once. Callers
hold the execution's row lock, which serialises those checks. A downstream flow that cannot
start is a warning on the source execution and never undoes the source's own end. Each
execution started by another one (subflow step or `flow` trigger) carries its depth, so flows
that start each other stop at `MILLRACE_SUBFLOW_MAX_DEPTH` instead of chaining forever.

The engine never calls the service layer: services check tenancy and roles, then call here.
Layers above the engine that wait for ends (a FlowAgent emitting its flow's result) register
a hook with `on_execution_end`, so the engine imports none of them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Account
from core.errors import ValidationFailed
from core.metrics import EXECUTIONS_STARTED
from executions.engine import dispatch
from executions.engine.callbacks import callback_owed
from executions.engine.compiler import compiled
from executions.engine.concurrency import slot_freed
from executions.engine.events import event_append
from executions.engine.file_copies import FileAdopter
from executions.engine.inputs import coerce_inputs, ensure_shallow, inputs_seal
from executions.engine.labels import label_rows, labels_check
from executions.engine.transitions import StaleStatus, approval_close_pending, transition
from executions.engine.writes import pending as pending_writes
from executions.models import (
    TERMINAL_EXECUTION_STATUSES,
    Approval,
    Execution,
    ExecutionEvent,
    ExecutionLabel,
    ExecutionStatus,
    TaskRun,
    TaskStatus,
)
from flows.models import Flow, Trigger

logger = logging.getLogger("millrace.engine")
E, T = ExecutionStatus, TaskStatus
#: Steps an outside end closes; running ones finish and record their result.
ACTIVE_TASKS = (T.PENDING, T.QUEUED, T.WAITING, T.RETRYING)
#: Called with each ended execution, under its row lock, possibly more than once per end.
_END_HOOKS: list[Callable[[Execution], None]] = []


def on_execution_end(hook: Callable[[Execution], None]) -> None:
    """Register `hook` for every execution end (an app's `ready`); it must be cheap and idempotent."""
    if hook not in _END_HOOKS:
        _END_HOOKS.append(hook)


# --- creating an execution ------------------------------------------------------------------


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


def execution_create(
    *,
    flow: Flow,
    inputs: Any = None,
    origin: str = "api",
    created_by: Account | None = None,
    trigger: Trigger | None = None,
    trigger_data: dict[str, Any] | None = None,
    parent_task: TaskRun | None = None,
    labels: dict[str, str] | None = None,
    execution_id: uuid.UUID | None = None,
) -> Execution:
    """Write a QUEUED execution of `flow` and its first event (no role check: callers did it).

    Inside `writes.deferred_writes()` the row goes with the transaction's other writes. Its
    labels are the flow's and `labels` (which win on a shared key). `execution_id` is given
    when files of the execution were stored before it (its FILE inputs).
    """
    given_labels = labels_check(labels)
    for key, value in (trigger_data or {}).items():  # a webhook's body is data as inputs are
        ensure_shallow(value, field=f"webhook {key}" if key == "body" else f"trigger {key}")
    try:
        definition = compiled(flow.source)
    except Exception as exc:
        raise ValidationFailed(f"The flow definition does not compile: {exc}") from exc
    execution = Execution(  # QUEUED: the model's initial status
        id=execution_id or uuid.uuid4(),
        flow=flow,
        flow_name=flow.name,
        flow_revision=flow.revision,
        source=flow.source,
        namespace_id=flow.namespace_id,
        labels={**definition.labels, **given_labels},
        origin=origin,
        trigger=trigger,
        trigger_data=trigger_data or {},
        parent_task=parent_task,
        created_by=created_by,
        updated_by=created_by,
        tasks_total=definition.tasks_total,
        timeout_seconds=int(definition.timeout) if definition.timeout else None,
        timeout_policy=str(definition.timeout_policy) if definition.timeout else "",
    )
    # the id binds the sealed SECRET inputs to this execution
    execution.inputs, execution.sealed_inputs = inputs_seal(
        definition, coerce_inputs(definition, inputs), execution_id=execution.pk
    )
    rows = [execution, *label_rows(execution)]
    writes = pending_writes()
    if writes is not None:
        # stamped now rather than at the flush: what is built from the execution before its
        # statement is sent (the start's queue message) carries the row's own timestamps
        execution.created_at = execution.updated_at = timezone.now()
        writes.insert(rows)
    else:
        execution.save(force_insert=True)
        if len(rows) > 1:
            ExecutionLabel.objects.bulk_create(rows[1:])
    event_append(
        execution_id=execution.pk,
        type="execution_status",
        message="Execution queued",
        data={"status": E.QUEUED, "previous": None},
    )
    EXECUTIONS_STARTED.labels(origin).inc()
    return execution


# --- ending an execution from outside -------------------------------------------------------


def end_active_steps(execution: Execution, status: str) -> None:
    """End every step that is not running (running ones finish and record their result); an
    approval the step waited for is rejected, naming why."""
    for run in TaskRun.objects.filter(execution=execution, status__in=ACTIVE_TASKS):
        try:
            transition(
                run,
                status,
                message=f"Step '{run.name}' {status.lower()}",
                lease_owner="",
                lease_until=None,
                wake_at=None,
            )
        except StaleStatus:
            continue
        approval_close_pending(run, Approval.Status.REJECTED, comment=f"Execution {status.lower()}")


def execution_end(execution: Execution, status: str, *, message: str, **fields: Any) -> None:
    """End a live execution from outside (cancel, flow timeout, parent ended) and what follows.

    `execution` must be locked by the caller's transaction; raises `StaleStatus` when another
    request or worker moved it first. A flow with `finally` tasks, cancelled or timed out once
    started, runs them first (`_end_after_finally`); ended again meanwhile, it ends at once.
    """
    if status in (E.CANCELLED, E.TIMED_OUT) and _finally_first(execution):
        _end_after_finally(execution, status, message=message, **fields)
        return
    if execution.ending:  # ended again while its finally tasks ran: at once, and for good
        fields["ending"] = ""
    transition(execution, status, message=message, **fields)
    end_active_steps(execution, status)
    _end_children(execution)
    execution_finished(execution)


def _finally_first(execution: Execution) -> bool:
    """Whether an outside end waits for the flow's `finally` tasks: not when it is already
    waiting for them, nor for an execution that never started (nothing ran to clean up)."""
    if execution.ending or execution.status == E.QUEUED or execution.is_terminal:
        return False
    try:
        return bool(compiled(execution.source).finally_.steps)
    except Exception:  # a definition that no longer compiles ends at once
        return False


def _end_after_finally(execution: Execution, status: str, *, message: str, **fields: Any) -> None:
    """Record the end to come (`ending`), end the active steps and live subflows like an end
    would, and let the walk run the `finally` tasks; the walk writes the status once they end.
    The flow's deadline is lifted: the `finally` tasks' own timeouts bound them."""
    error = fields.get("error") or message
    changes = {"ending": status, "deadline": None, "error": error}
    if fields.get("updated_by") is not None:
        changes["updated_by"] = fields["updated_by"]
    Execution.objects.filter(pk=execution.pk).update(**changes)
    for name, value in changes.items():
        setattr(execution, name, value)
    if execution.status == E.PAUSED:
        transition(execution, E.RUNNING, message=f"{message}; running its finally tasks first")
    else:
        event_append(
            execution_id=execution.pk, type="log", level="warn", message=f"{message}; running its finally tasks first"
        )
    end_active_steps(execution, status)
    _end_children(execution)
    dispatch.advance_execution(str(execution.pk))


def _end_children(execution: Execution) -> None:
    children = Execution.objects.filter(parent_task__execution=execution).exclude(
        status__in=TERMINAL_EXECUTION_STATUSES
    )
    for child in children:
        try:
            execution_end(child, E.CANCELLED, message="Parent execution ended", error="Parent execution ended")
        except StaleStatus:
            continue


# --- what follows an end --------------------------------------------------------------------


def execution_finished(execution: Execution) -> None:
    """The parent step of a subflow ends like it, its callback is owed, `flow` triggers fire, a
    flow with a concurrency limit hands the slot on, and the registered end hooks run."""
    if execution.parent_task_id:
        subflow_finished(execution)
    callback_owed(execution)
    fire_flow_triggers(execution)
    slot_freed(execution)
    for hook in _END_HOOKS:
        hook(execution)


def subflow_finished(child: Execution) -> None:
    """End the waiting parent step like the child ended, then advance the parent execution."""
    with transaction.atomic():
        run = TaskRun.objects.select_for_update().filter(pk=child.parent_task_id).first()
        if run is None or run.status != T.WAITING:
            return
        try:
            if child.status in (E.SUCCESS, E.WARNING):  # a WARNING child succeeded for its parent
                files = FileAdopter(
                    namespace=child.namespace.name,
                    source_id=str(child.pk),
                    target_id=str(run.execution_id),
                    under=f"subflows/{child.pk}",
                )
                transition(
                    run,
                    T.SUCCESS,
                    outputs={"executionId": str(child.pk), "outputs": files.adopt(child.outputs)},
                    message=f"Subflow execution {child.pk} succeeded",
                )
            else:
                error = f"Subflow execution {child.pk} ended {child.status}: {child.error}"
                transition(
                    run, T.FAILED, error=error, level="error", message=error, outputs={"executionId": str(child.pk)}
                )
        except StaleStatus:
            return
        dispatch.advance_execution(str(run.execution_id))


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


def fire_flow_triggers(execution: Execution) -> None:
    """Start each enabled `flow` trigger watching this flow for this status (same namespace only)."""
    if execution.flow_id is None or not execution.is_terminal or not _watched(execution.flow_id):
        return
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
