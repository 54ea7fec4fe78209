"""Writes on executions: start, cancel, pause, resume, retry, approvals and callbacks; deleting
a flow with its live executions cancelled.

Every status change goes through the engine's `transition`; these services check roles
and tenancy, record the audit entry, then ask the engine (`executions.engine.lifecycle`
creates and ends executions). The engine never calls back here.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from accounts.roles import Role
from accounts.selectors import ensure_role
from accounts.services import audit_entry, audit_record
from core.deadlocks import retry_on_deadlock
from core.errors import BadRequest, Conflict, NotFound, PayloadTooLarge, ValidationFailed
from core.filerefs import FileRefError, FileTooLarge, clean_path
from core.ids import parse_uuid
from executions.engine import dispatch
from executions.engine.compiler import compiled
from executions.engine.context import callback_digest
from executions.engine.events import batched
from executions.engine.inputs import file_inputs_check, inputs_unseal
from executions.engine.lifecycle import execution_create, execution_end
from executions.engine.replay import replay_create
from executions.engine.rows import execution_snapshot
from executions.engine.transitions import transition
from executions.engine.writes import deferred_writes
from executions.models import TERMINAL_EXECUTION_STATUSES, Approval, Execution, ExecutionStatus, TaskRun, TaskStatus
from files.selectors import execution_file_open
from files.services import execution_file_put, execution_files_delete
from flows import services as flows_services
from flows.definitions import CONTROL_TYPES
from flows.definitions.ir import InputType
from flows.models import Flow, FlowRevision, Trigger

E, T = ExecutionStatus, TaskStatus


def execution_start(
    *,
    actor: Account | None,
    flow: Flow,
    inputs: Any = None,
    files: Mapping[str, UploadedFile] | None = None,
    origin: str = "api",
    trigger: Trigger | None = None,
    trigger_data: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
) -> Execution:
    """Start a run of `flow`: executor role in its namespace (none for system triggers).

    `files` are the uploads of its FILE inputs (input id → file): stored under the new
    execution before its row is written, and deleted again when the start fails, so a refused
    start leaves neither. `labels` are added to the flow's own (a shared key takes the given value)."""
    if actor is not None:
        ensure_role(actor, flow.namespace, Role.EXECUTOR)
    files = files or {}
    try:
        definition = compiled(flow.source)
    except Exception as exc:
        raise ValidationFailed(f"The flow definition does not compile: {exc}") from exc
    file_inputs_check(definition, inputs, files)
    execution_id = uuid.uuid4()
    try:
        if files:
            inputs = {**(inputs or {}), **_files_store(flow, execution_id, files)}
        # The execution, its event and the audit entry: one statement, sent as its own transaction
        # unless its task is a row of the same database, written in the same transaction.
        in_database = dispatch.queue_in_database()
        with transaction.atomic():
            with batched(), deferred_writes(whole_transaction=not in_database) as writes:
                execution = execution_create(
                    flow=flow,
                    inputs=inputs,
                    origin=origin,
                    created_by=actor,
                    trigger=trigger,
                    trigger_data=trigger_data,
                    labels=labels,
                    execution_id=execution_id,
                )
                writes.insert(
                    [
                        audit_entry(
                            actor=actor,
                            action="execution.start",
                            resource_type="execution",
                            resource_id=execution.pk,
                            namespace=flow.namespace,
                            summary={"flow": flow.name, "origin": origin},
                        )
                    ]
                )
                snapshot = execution_snapshot(execution, flow.namespace)
                if in_database:
                    # The task's row is a statement of this transaction that sends the writes
                    # first: its message is built and signed before any of them, so on SQLite
                    # the writer lock is held for the writes alone.
                    dispatch.start_execution(str(execution.pk), snapshot)
            if not in_database:  # queued once the start commits
                dispatch.start_execution(str(execution.pk), snapshot)
    except BaseException:
        if files:  # what was stored of a start that did not happen
            execution_files_delete(namespace_name=flow.namespace.name, execution_id=str(execution_id))
        raise
    return execution


def execution_rerun(*, actor: Account, execution: Execution, origin: str = "console") -> Execution:
    """Run `execution`'s flow again with the same inputs ("Run again"): a fresh start of the
    flow's current revision, as `execution_start` (executor role), with the same labels.

    SECRET inputs are stored masked and sealed: they are unsealed here and sealed anew under the
    new id. FILE inputs are stored as URIs of the original's files, which a start refuses as
    values (another execution's files): each is copied as an upload of the new execution.
    A flow that was deleted is a 409; inputs the current revision no longer takes a 422.
    """
    flow = execution.flow
    if flow is None:
        raise Conflict("The execution's flow was deleted; it cannot be run again.")
    ensure_role(actor, flow.namespace, Role.EXECUTOR)  # before any secret is unsealed
    inputs = {**(execution.inputs or {}), **inputs_unseal(execution.pk, execution.sealed_inputs)}
    try:
        declared = compiled(flow.source).inputs
    except Exception as exc:
        raise ValidationFailed(f"The flow definition does not compile: {exc}") from exc
    files: dict[str, UploadedFile] = {}
    try:
        for item in declared:
            uri = inputs.get(item.id)
            if item.type != InputType.FILE or not isinstance(uri, str):
                continue
            name, opened = execution_file_open(
                namespace_name=execution.namespace.name, execution_id=str(execution.pk), uri=uri
            )
            files[item.id] = UploadedFile(file=opened, name=name)
            del inputs[item.id]
        return execution_start(
            actor=actor, flow=flow, inputs=inputs, files=files, origin=origin, labels=dict(execution.labels or {})
        )
    finally:
        for upload in files.values():
            upload.close()


def _files_store(flow: Flow, execution_id: uuid.UUID, files: Mapping[str, UploadedFile]) -> dict[str, str]:
    """Store each upload at `inputs/<input id>/<its base name>`; the URIs by input id.

    A name that cannot be a file name (`..`, control characters, over 255 characters) is a
    422 and a file over `MILLRACE_MAX_FILE_BYTES` a 413, each naming its input."""
    uris = {}
    for input_id, upload in files.items():
        field = f"inputs.{input_id}"
        base = (upload.name or "").replace("\\", "/").rsplit("/", 1)[-1]
        try:
            uris[input_id] = execution_file_put(
                namespace_name=flow.namespace.name,
                execution_id=str(execution_id),
                path=f"inputs/{input_id}/{clean_path(base)}",
                content=upload,
            )
        except FileTooLarge as exc:
            raise PayloadTooLarge(str(exc), details=[{"field": field, "reason": str(exc)}]) from exc
        except FileRefError as exc:
            raise ValidationFailed(
                f"The file of input '{input_id}' cannot be stored: {exc}",
                details=[{"field": field, "reason": f"bad file name: {exc}"}],
            ) from exc
    return uris


def _locked(execution: Execution) -> Execution:
    return Execution.objects.select_for_update(of=("self",)).select_related("namespace").get(pk=execution.pk)


def execution_cancel(*, actor: Account, execution: Execution) -> Execution:
    ensure_role(actor, execution.namespace, Role.EXECUTOR)

    @transaction.atomic
    def cancel() -> Execution:
        locked = _locked(execution)
        if locked.is_terminal:
            raise Conflict(f"The execution already ended ({locked.status}).")
        execution_end(
            locked,
            E.CANCELLED,
            message=f"Execution cancelled by {actor.username}",
            updated_by=actor,
            error=f"Cancelled by {actor.username}",
        )
        audit_record(
            actor=actor,
            action="execution.cancel",
            resource_type="execution",
            resource_id=locked.pk,
            namespace=locked.namespace,
        )
        return locked

    # a worker ending a step of this execution locks in the other order (core/deadlocks.py)
    return retry_on_deadlock(cancel)


@transaction.atomic
def flow_delete(*, actor: Account, flow: Flow, force: bool = False) -> None:
    """Delete a flow; with live executions only when `force`, which cancels them first.

    The deletion itself, and its refusal while a run is live, is `flows.services.flow_delete`.
    """
    ensure_role(actor, flow.namespace, Role.EDITOR)
    live = list(flow.executions.exclude(status__in=TERMINAL_EXECUTION_STATUSES)) if force else []
    for execution in live:
        try:
            execution_cancel(actor=actor, execution=execution)
        except Conflict:  # already ended by an earlier cancel (a subflow of a cancelled parent)
            continue
    flows_services.flow_delete(actor=actor, flow=flow, cancelled=len(live))


def execution_pause(*, actor: Account, execution: Execution) -> Execution:
    """PAUSED at once; a running step finishes and records its result; nothing new starts."""
    ensure_role(actor, execution.namespace, Role.EXECUTOR)
    with transaction.atomic():
        execution = _locked(execution)
        if execution.status not in (E.QUEUED, E.RUNNING, E.WAITING):
            raise Conflict(f"An execution that is {execution.status} cannot be paused.")
        transition(execution, E.PAUSED, message=f"Execution paused by {actor.username}", updated_by=actor)
        audit_record(
            actor=actor,
            action="execution.pause",
            resource_type="execution",
            resource_id=execution.pk,
            namespace=execution.namespace,
        )
    return execution


def execution_resume(*, actor: Account, execution: Execution) -> Execution:
    ensure_role(actor, execution.namespace, Role.EXECUTOR)
    with transaction.atomic():
        execution = _locked(execution)
        if execution.status != E.PAUSED:
            raise Conflict(f"Only a paused execution can be resumed; this one is {execution.status}.")
        target = E.RUNNING if execution.started_at else E.QUEUED
        transition(execution, target, message=f"Execution resumed by {actor.username}", updated_by=actor)
        queued = TaskRun.objects.filter(execution=execution, status=T.QUEUED).values_list("pk", flat=True)
        dispatch.run_task_runs([str(pk) for pk in queued])
        dispatch.advance_execution(str(execution.pk))
        audit_record(
            actor=actor,
            action="execution.resume",
            resource_type="execution",
            resource_id=execution.pk,
            namespace=execution.namespace,
        )
    return execution


def _requeue_ended_steps(execution: Execution) -> list[str]:
    """Queue the failed, cancelled and timed-out steps of `execution` again, in place.

    Handlers of the `errors` and `finally` blocks stay as they ended (the orchestrator runs
    them afresh for the new attempt). A step's timeout starts again. Returns the plugin steps
    for workers: the orchestrator only dispatches steps it creates, so re-queued ones are
    dispatched here.
    """
    flow = compiled(execution.source)
    now = timezone.now()
    plugin_runs: list[str] = []
    for run in TaskRun.objects.filter(execution=execution, status__in=(T.FAILED, T.CANCELLED, T.TIMED_OUT)):
        step = flow.get_step(run.step_id)
        if step is None or flow.block_of(step.id) in (flow.errors, flow.finally_):
            continue
        transition(
            run,
            T.QUEUED,
            error="",
            message=f"Step '{run.name}' queued again",
            state={k: v for k, v in (run.state or {}).items() if k not in ("resume", "wait", "early_callback")},
            deadline=now + timedelta(seconds=step.timeout) if step.timeout else None,
            wake_at=None,
            lease_owner="",
            lease_until=None,
            callback_digest=None,
        )
        if run.plugin_type not in CONTROL_TYPES:
            plugin_runs.append(str(run.pk))
    return plugin_runs


def execution_retry(*, actor: Account, execution: Execution) -> Execution:
    """Re-run the failed, cancelled and timed-out steps in place; successful outputs are kept."""
    ensure_role(actor, execution.namespace, Role.EXECUTOR)
    with transaction.atomic():
        execution = _locked(execution)
        if execution.status not in (E.FAILED, E.CANCELLED, E.TIMED_OUT):
            raise Conflict(
                f"Only a failed, cancelled or timed-out execution can be retried; this one is {execution.status}."
            )
        attempt = execution.attempt + 1
        transition(
            execution,
            E.QUEUED,
            message=f"Execution retried by {actor.username} (attempt {attempt})",
            updated_by=actor,
            attempt=attempt,
            error="",
            deadline=None,
        )
        requeued = _requeue_ended_steps(execution)
        Approval.objects.filter(execution=execution, status=Approval.Status.REJECTED).delete()
        dispatch.start_execution(str(execution.pk))
        dispatch.run_task_runs(requeued)
        audit_record(
            actor=actor,
            action="execution.retry",
            resource_type="execution",
            resource_id=execution.pk,
            namespace=execution.namespace,
            summary={"attempt": attempt},
        )
    return execution


def approval_decide(*, actor: Account, approval: Approval, approve: bool, comment: str = "") -> Approval:
    """Approve (the gate succeeds) or reject (the gate fails, naming who and why)."""
    ensure_role(actor, approval.execution.namespace, Role.EXECUTOR)
    with transaction.atomic():
        approval = Approval.objects.select_for_update().select_related("task_run").get(pk=approval.pk)
        if approval.status != Approval.Status.PENDING:
            raise Conflict(f"The approval was already decided ({approval.status}).")
        run = approval.task_run
        if run.status != T.WAITING:
            raise Conflict(f"The gate is not waiting ({run.status}).")
        transition(
            approval,
            Approval.Status.APPROVED if approve else Approval.Status.REJECTED,
            decided_by=actor,
            comment=comment,
            decided_at=timezone.now(),
        )
        if approve:
            transition(
                run,
                T.SUCCESS,
                outputs={"approved": True, "decidedBy": actor.username, "comment": comment},
                message=f"Approved by {actor.username}",
            )
        else:
            error = f"Rejected by {actor.username}" + (f": {comment}" if comment else "")
            transition(
                run,
                T.FAILED,
                error=error,
                level="error",
                message=error,
                outputs={"approved": False, "decidedBy": actor.username, "comment": comment},
            )
        dispatch.advance_execution(str(run.execution_id))
        audit_record(
            actor=actor,
            action="approval.approve" if approve else "approval.reject",
            resource_type="approval",
            resource_id=approval.pk,
            namespace=approval.execution.namespace,
            summary={"comment": comment},
        )
    return approval


def task_complete_callback(*, token: str, payload: Any) -> TaskRun:
    """Complete the step waiting on this single-use callback token with `payload`."""
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("command_response"), dict)
        or ("body" not in payload["command_response"])
    ):
        raise BadRequest("The callback needs command_response.body.", code="invalid_callback_body")
    with transaction.atomic():
        run = TaskRun.objects.select_for_update().filter(callback_digest=callback_digest(token)).first()
        if run is None:
            raise NotFound("Unknown callback.")
        if run.status == T.RUNNING and "early_callback" not in (run.state or {}):
            TaskRun.objects.filter(pk=run.pk).update(state={**(run.state or {}), "early_callback": payload})
            return run
        if run.status != T.WAITING:
            raise BadRequest("The task is not waiting for a callback.", code="not_waiting_for_callback")
        state = {k: v for k, v in (run.state or {}).items() if k != "wait"}
        transition(
            run,
            T.QUEUED,
            state={**state, "resume": {"payload": payload}},
            callback_digest=None,
            message=f"Step '{run.name}' called back",
        )
        dispatch.run_task_runs([str(run.pk)])
    return run


def execution_replay(
    *, actor: Account, execution: Execution, task_run_id: Any, revision: int | None = None
) -> Execution:
    """A new execution of `execution`'s flow and inputs that keeps the outputs of the tasks
    before task run `task_run_id` and runs from it (Kestra's replay; `retry` runs in place).

    On the original's revision, or on `revision` of the flow. Executor role; the original must
    have ended (409). The original's files it carries on are copied under it (`file_copies`).
    A task run of another execution, or an unknown revision, is a 404.
    """
    ensure_role(actor, execution.namespace, Role.EXECUTOR)
    chosen = TaskRun.objects.filter(pk=parse_uuid(task_run_id, what="Task run"), execution=execution).first()
    if chosen is None:
        raise NotFound("Task run not found in this execution.")
    if not execution.is_terminal:
        raise Conflict(f"Only an ended execution can be replayed; this one is {execution.status}.")
    flow = execution.flow
    if flow is None:
        raise Conflict("The execution's flow was deleted; it cannot be replayed.")
    source, number = execution.source, execution.flow_revision
    if revision is not None:
        stored = FlowRevision.objects.filter(flow=flow, number=revision).first()
        if stored is None:
            raise NotFound(f"Flow '{flow.name}' has no revision {revision}.")
        source, number = stored.source, stored.number
    replay_id = uuid.uuid4()
    try:
        with transaction.atomic():
            replay = replay_create(
                original=execution,
                chosen=chosen,
                flow=flow,
                source=source,
                revision=number,
                created_by=actor,
                replay_id=replay_id,
            )
            audit_record(
                actor=actor,
                action="execution.replay",
                resource_type="execution",
                resource_id=replay.pk,
                namespace=execution.namespace,
                summary={
                    "flow": flow.name,
                    "originalId": str(execution.pk),
                    "taskRun": chosen.name,
                    "revision": number,
                },
            )
            dispatch.start_execution(str(replay.pk))
    except BaseException:  # the files copied for a replay that was not written
        execution_files_delete(namespace_name=execution.namespace.name, execution_id=str(replay_id))
        raise
    return replay


def execution_replay_from_start(*, actor: Account, execution: Execution) -> Execution:
    """Replay from the first task run: a new execution of the same revision and inputs that
    keeps nothing (`execution_replay` keeps the steps before the one it is given)."""
    first = execution.task_runs.order_by("sequence").values_list("id", flat=True).first()
    if first is None:
        raise Conflict("No step of it ran; there is nothing to replay.")
    return execution_replay(actor=actor, execution=execution, task_run_id=first)
