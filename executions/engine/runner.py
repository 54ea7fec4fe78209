"""Worker entry points: start an execution, run a task run, advance after an outside event.

A worker claims a QUEUED task run, renders its inputs, runs its plugin, and records the
result in one transaction that also advances the execution. When that leaves exactly one
new runnable step, the step is leased to this worker and run inline: sequential flows
never pay a queue hop per step.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from connectors.registry import Plugin, Result, ResultStatus, WaitKind, get_plugin
from executions.engine import concurrency, dispatch, leases
from executions.engine.compiler import compiled
from executions.engine.context import ExecutionView, StepContext
from executions.engine.events import batched
from executions.engine.lifecycle import execution_end, execution_finished
from executions.engine.orchestrator import Orchestrator, Tick
from executions.engine.rows import execution_from_snapshot, execution_row
from executions.engine.templating import TemplateRenderer, TemplateRenderError, secret_refused, secrets_outside
from executions.engine.transitions import TERMINAL_TASK_STATUSES, StaleStatus, transition
from executions.engine.writes import deferred_writes
from executions.models import Execution, ExecutionStatus, TaskRun, TaskStatus
from flows.definitions import ir
from vault.masking import Masker

logger = logging.getLogger("millrace.engine")
T, E = TaskStatus, ExecutionStatus


@functools.cache
def worker_id() -> str:
    """This process, as lease owner (forgotten on fork: django-q2 forks its workers)."""
    return f"{socket.gethostname()}:{os.getpid()}"


os.register_at_fork(after_in_child=worker_id.cache_clear)


# --- entry points (django-q2 tasks) ---------------------------------------------------------


def start_execution(execution_id: str, snapshot: dict[str, Any] | None = None) -> None:
    _run_chain(_advance(execution_id, snapshot))


def advance_execution(execution_id: str) -> None:
    _run_chain(_advance(execution_id))


def run_task_run(task_run_id: str) -> None:
    run = _claim(task_run_id)
    _run_chain((run, None) if run is not None else None)


def _run_chain(claimed: tuple[TaskRun, list[TaskRun] | None] | None) -> None:
    while claimed is not None:
        claimed = _execute(*claimed)


# --- orchestration --------------------------------------------------------------------------

#: What the walk reads of task runs; the rest (inputs, timestamps, leases) stays in the table.
RUN_FIELDS = (
    "id",
    "execution_id",
    "parent_id",
    "step_id",
    "name",
    "plugin_type",
    "sequence",
    "loop_index",
    "status",
    "attempt",
    "outputs",
    "outcome",
    "error",
    "state",
    "execution_attempt",
    "started_at",
    "deadline",
)


def _task_runs(execution_id: object) -> list[TaskRun]:
    return list(TaskRun.objects.filter(execution_id=execution_id).only(*RUN_FIELDS))


def _orchestrate(execution: Execution, known: list[TaskRun] | None = None) -> tuple[TaskRun, list[TaskRun]] | None:
    """Advance a locked execution; dispatch new work on commit; return a run leased to us.

    `known` are the task runs as this worker last saw them, when it may trust them: see
    `_sole_active`.
    """
    try:
        flow = compiled(execution.source)
    except Exception as exc:
        if not execution.is_terminal:
            if execution.status == E.QUEUED:
                transition(execution, E.RUNNING, message="Execution started")
            error = f"The flow definition does not compile: {exc}"
            transition(execution, E.FAILED, error=error, level="error", message=error)
        return None
    was_terminal = execution.is_terminal
    with batched():
        if known is None and _first_start(execution):
            known = []  # no task run can exist yet
        runs = known if known is not None else _task_runs(execution.pk)
        tick: Tick = Orchestrator(execution, flow, runs).advance(claim_inline=worker_id())
    inline = None
    queued: list[str] = []
    for run in tick.runnable:
        if inline is None and run.status == T.RUNNING and run.lease_owner == worker_id():
            inline = run
        else:
            queued.append(str(run.pk))
    dispatch.run_task_runs(queued)
    if tick.finished and not was_terminal:
        execution_finished(execution)  # a subflow's parent step, the callback owed, flow triggers
    if inline is None:
        return None
    inline.execution = execution
    return inline, tick.task_runs


def _first_start(execution: Execution) -> bool:
    """A queued execution no walk has seen: no task run exists yet (a replay starts with the
    ones it kept, so it is not one)."""
    return (
        execution.status == E.QUEUED
        and execution.attempt == 1
        and not execution.started_at
        and execution.original_id is None
    )


def _sole_active(run: TaskRun, runs: list[TaskRun]) -> bool:
    """True when `run` was the execution's only unfinished task run.

    Then nothing but this worker (holding the execution lock now) could have changed the
    execution's task runs since it last read them: claims, sweeps, approvals and callbacks
    all act on unfinished runs, and the only one was ours, whose write just succeeded. The
    next walk can use the list in memory instead of reading it again.
    """
    run_id = run.id  # ended runs first: at every step of a long flow, all but one have ended
    return all(other.status in TERMINAL_TASK_STATUSES or other.id == run_id for other in runs)


def _in_place(run: TaskRun, runs: list[TaskRun]) -> list[TaskRun]:
    """`runs` with `run` instead of its copy read earlier (a chained step's list holds `run` itself)."""
    if any(other is run for other in runs):
        return runs
    run_id = run.id
    return [run if other.id == run_id else other for other in runs]


def _advance(execution_id: str, snapshot: dict[str, Any] | None = None) -> tuple[TaskRun, list[TaskRun]] | None:
    execution = execution_from_snapshot(snapshot) if snapshot is not None else execution_row(execution_id)
    if execution is None:
        return None
    if _first_start(execution) and concurrency.limit_of(execution) is None:
        # No task run exists and nothing else acts on a queued execution but a cancel: walk
        # it from this unlocked read, and let the one statement that writes check the guess.
        # (A limited flow takes its slot under locks: the careful path below.)
        try:
            with transaction.atomic(), batched(), deferred_writes(guard=execution, whole_transaction=True):
                return _orchestrate(execution, [])
        except StaleStatus:
            pass  # cancelled (or started by another worker) meanwhile: the careful path decides
    with transaction.atomic():
        execution = execution_row(execution_id, lock=True)
        if execution is None:
            return None
        with batched(), deferred_writes():
            if execution.status == E.QUEUED and not _admitted(execution):
                return None
            return _orchestrate(execution)


def _admitted(execution: Execution) -> bool:
    """A QUEUED execution of a flow with a concurrency limit takes a slot, waits, or ends at once."""
    limit = concurrency.limit_of(execution)
    if limit is None:
        return True
    admission = concurrency.admit(execution, limit)
    if admission.status:
        level = "warn" if admission.status == E.CANCELLED else "error"
        execution_end(execution, admission.status, message=admission.message, error=admission.message, level=level)
    return admission.start


# --- running one step -----------------------------------------------------------------------


def _claim(task_run_id: str) -> TaskRun | None:
    try:
        with transaction.atomic(), batched(), deferred_writes():
            run = TaskRun.objects.select_related("execution__namespace").filter(pk=task_run_id).first()
            if run is None or run.status != T.QUEUED:
                return None
            # Lock the execution as the orchestrator does, so a pause or cancel committing now
            # cannot slip between reading its status and starting the step.
            execution = execution_row(run.execution_id, lock=True, like=run.execution)
            if execution is None:
                return None
            run.execution = execution
            if execution.status == E.CANCELLED:
                transition(run, T.CANCELLED, message=f"Step '{run.name}' cancelled")
                return None
            if execution.status == E.PAUSED or execution.is_terminal:
                return None  # resume or retry dispatches it again
            if execution.status == E.QUEUED and concurrency.limit_of(execution) is not None:
                return None  # a retried run of a limited flow: its start dispatches it once it has a slot
            resuming = bool(run.state.get("resume"))
            transition(
                run,
                T.RUNNING,
                attempt=run.attempt if resuming else run.attempt + 1,
                lease_owner=worker_id(),
                lease_until=timezone.now() + timedelta(seconds=settings.MILLRACE_LEASE_SECONDS),
                message=f"Step '{run.name}' {'resumed' if resuming else 'started'}",
            )
    except StaleStatus:
        return None  # another worker claimed it, or it was cancelled meanwhile
    return run


def _execute(run: TaskRun, runs: list[TaskRun] | None) -> tuple[TaskRun, list[TaskRun]] | None:
    """Run one leased task run, record its result and advance; returns the next inline run.

    `runs` are the execution's task runs as the previous step's walk left them (inline
    chaining), so a chained step does not read them again before it runs.
    """
    execution = run.execution
    flow = compiled(execution.source)
    step = flow.step(run.step_id)
    known = runs if runs is not None else _task_runs(execution.pk)
    view = ExecutionView(execution, flow, _in_place(run, known))
    renderer = view.renderer(run)
    leases.hold(run.pk)
    try:
        result, inputs, ctx = _call_plugin(run, step, renderer, view)
    finally:
        leases.release(run.pk)
    masker = Masker(renderer.used_secrets | (ctx.used_secrets if ctx else set()))
    if not run.callback_digest and _sole_active(run, view.task_runs):
        # Nothing else can have moved this execution unless its status did: record and
        # advance from memory, and let one statement check that guess as it writes.
        seen = dict(run.__dict__)
        try:
            with transaction.atomic(), batched(), deferred_writes(guard=execution, whole_transaction=True):
                _record(run, step, result, inputs, masker, ctx)
                return _orchestrate(execution, view.task_runs)
        except StaleStatus:
            for key in set(run.__dict__) - set(seen):
                del run.__dict__[key]
            run.__dict__.update(seen)  # as it was; the careful path below reads the rest anew
    with transaction.atomic(), batched():
        locked = execution_row(execution.pk, lock=True, like=execution)
        if locked is None:
            return None
        if run.callback_digest:
            _take_early_callback(run)
        try:
            _record(run, step, result, inputs, masker, ctx)
        except StaleStatus:
            logger.info("Task run %s changed while it ran (timed out or cancelled); result dropped", run.pk)
        return _orchestrate(locked)


def _take_early_callback(run: TaskRun) -> None:
    """A callback may arrive while the step still runs (a fast proxy); it is parked in the row's
    state. Lock the row, so a callback arriving now waits for this step's WAITING record."""
    fresh = TaskRun.objects.select_for_update().filter(pk=run.pk).values_list("state", flat=True).first() or {}
    if "early_callback" in fresh:
        run.state = {**(run.state or {}), "early_callback": fresh["early_callback"]}


def _call_plugin(
    run: TaskRun, step: ir.Step, renderer: TemplateRenderer, view: ExecutionView
) -> tuple[Result, Any, StepContext | None]:
    flow, execution = view.flow, view.execution
    field = "params" if flow.is_graph else "properties"
    plugin: type[Plugin] | None = get_plugin(run.plugin_type)
    if plugin is None:
        return Result.failed(f"Unknown plugin '{run.plugin_type}'.", code="UNKNOWN_PLUGIN"), step.inputs, None
    try:
        inputs = renderer.render(step.inputs, field)
    except TemplateRenderError as exc:
        return Result.failed(f"Task '{run.name}': {exc}", code="TEMPLATE_ERROR"), step.inputs, None
    fill = plugin.previous_outputs_input
    if fill and fill not in inputs and flow.is_graph and flow.block_of(step.id) is flow.main:
        inputs[fill] = view.previous_outputs(run)
    stored = renderer.redact(inputs, field)
    if renderer.used_secrets and not plugin.takes_secrets:
        return Result.failed(f"Task '{run.name}': {secret_refused(plugin.id)}", code="SECRET_REFUSED"), stored, None
    misplaced = secrets_outside(plugin, inputs, renderer.used_secrets)
    if misplaced:
        return Result.failed(f"Task '{run.name}': {misplaced}", code="SECRET_REFUSED"), stored, None
    problems = plugin.input_problems(inputs)
    if problems:
        detail = "; ".join(f"{p['path'] or field}: {p['message']}" for p in problems)
        return Result.failed(f"Task '{run.name}' has invalid inputs: {detail}", code="INVALID_INPUTS"), stored, None
    ctx = StepContext(execution, run, set(renderer.used_secrets))
    try:
        resume = run.state.get("resume")
        instance = plugin()
        result = instance.resume(inputs, ctx, resume.get("payload")) if resume else instance.run(inputs, ctx)
    except Exception as exc:  # a plugin bug fails its step, never the worker
        logger.exception("Plugin %s failed", run.plugin_type)
        result = Result.failed(f"{type(exc).__name__}: {exc}", code="PLUGIN_ERROR")
    return result, stored, ctx


def _record(run: TaskRun, step: ir.Step, result: Result, inputs: Any, masker: Masker, ctx: StepContext | None) -> None:
    state = {key: value for key, value in (run.state or {}).items() if key not in ("resume", "wait")}
    if ctx is not None and ctx.state:
        state["plugin"] = ctx.state
    common: dict[str, Any] = {
        "inputs": masker.mask(inputs),
        "lease_owner": "",
        "lease_until": None,
        "state": state,
        # only the worker holding the lease, on this attempt, records it: a worker whose lease
        # lapsed (and whose step was queued again) must not overwrite the newer attempt
        "expect": {"lease_owner": run.lease_owner, "attempt": run.attempt},
    }
    outputs = masker.mask(result.outputs)
    name = run.name
    if result.status == ResultStatus.SUCCESS:
        transition(
            run,
            T.SUCCESS,
            outputs=outputs,
            outcome=_outcome(result.outcome),
            error="",
            message=f"Step '{name}' completed",
            data={"outputs": outputs},
            **common,
        )
        return
    if result.status == ResultStatus.FAILED:
        error = masker.mask_text(result.error or "The step failed.")
        data = {"error_code": result.error_code} if result.error_code else None
        retry = step.retry
        if retry is not None and retry.allows(run.attempt + 1):
            delay = retry.delay_before(run.attempt + 1)
            transition(
                run,
                T.RETRYING,
                error=error,
                outputs=outputs,
                wake_at=timezone.now() + timedelta(seconds=delay),
                level="warn",
                message=f"Step '{name}' failed (attempt {run.attempt}): {error}; retrying in {delay:g}s",
                data=data,
                **common,
            )
            return
        transition(
            run,
            T.FAILED,
            error=error,
            outputs=outputs,
            level="error",
            message=f"Step '{name}' failed: {error}",
            data=data,
            **common,
        )
        return
    wait = result.wait
    state["wait"] = masker.mask({"kind": str(wait.kind), **wait.data} if wait else {"kind": "callback"})
    wake_at = wait.until if wait is not None and wait.kind == WaitKind.TIMER else None
    transition(run, T.WAITING, outputs=outputs, wake_at=wake_at, message=f"Step '{name}' waits", **common)
    early = state.pop("early_callback", None)
    if early is not None:  # the callback arrived while the step was still running
        transition(
            run,
            T.QUEUED,
            state={**state, "resume": {"payload": early}},
            callback_digest=None,  # single use
            message=f"Step '{name}' called back",
        )
        dispatch.run_task_runs([str(run.pk)])


def _outcome(value: Any) -> str:
    if value is None:
        return ""
    return str(value).lower() if isinstance(value, bool) else str(value)
