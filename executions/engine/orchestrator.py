"""Decide what happens next in an execution, from its compiled flow and its task runs.

`advance()` runs inside a transaction that holds the execution's row lock. It walks the
flow against the task runs recorded so far, creates the task runs of steps that became
ready, settles control steps (if/switch/sequential/parallel/forEach/fail/pause/subflow/labels)
whose children are done, and ends the execution when the flow is done. It never runs a
plugin: it returns the plugin task runs that need a worker.

Task runs are keyed by (step id, parent task run, loop index); a retried execution reuses
its task runs in place, so the walk sees a retried step as not done yet. Handlers of the
`errors` block are keyed by the execution attempt too, so they run again on each attempt.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum
from typing import Any

from django.conf import settings
from django.utils import timezone

from executions.engine.context import ExecutionView, render_control, render_control_redacted
from executions.engine.labels import labels_merge
from executions.engine.outputs import OutputError, declared_outputs
from executions.engine.subflows import subflow_start
from executions.engine.transitions import (
    TERMINAL_TASK_STATUSES,
    StaleStatus,
    approval_open,
    task_run_lease_new,
    task_runs_create,
    transition,
)
from executions.models import Execution, ExecutionStatus, TaskRun, TaskStatus
from flows.definitions import ir

T, E = TaskStatus, ExecutionStatus
ACTIVE = frozenset({T.PENDING, T.QUEUED, T.RUNNING, T.WAITING, T.RETRYING})
FAILED_STATUSES = frozenset({T.FAILED, T.TIMED_OUT, T.CANCELLED})


class Outcome(Enum):
    DONE = "done"
    ACTIVE = "active"
    FAILED = "failed"


@dataclass
class BlockState:
    outcome: Outcome
    failed: TaskRun | None = None


@dataclass
class Tick:
    """What `advance` decided: task runs for workers (the first may be claimed inline)."""

    runnable: list[TaskRun] = field(default_factory=list)
    finished: bool = False
    task_runs: list[TaskRun] = field(default_factory=list)  # every run, as the walk left them
    subflows: list[Execution] = field(default_factory=list)


class Orchestrator:
    def __init__(self, execution: Execution, flow: ir.CompiledFlow, task_runs: list[TaskRun]) -> None:
        self.execution = execution
        self.flow = flow
        self.view = ExecutionView(execution, flow, task_runs)
        self.index: dict[tuple, TaskRun] = (
            {(run.step_id, run.parent_id, run.loop_index, 0): run for run in task_runs}
            if not flow.per_attempt  # the usual flow: the key without looking each step up
            else {self._key_of(run): run for run in task_runs}
        )
        self.sequence = max((run.sequence for run in task_runs), default=0)
        self.pending: list[TaskRun] = []
        self.tick = Tick()

    # --- keys -------------------------------------------------------------------------

    # `errors` and `finally` handlers run again on each attempt of the execution: their key
    # holds the attempt (`flow.per_attempt`)

    def _key(self, step_id: str, parent: TaskRun | None, loop_index: int | None) -> tuple:
        attempt = self.execution.attempt if step_id in self.flow.per_attempt else 0
        return step_id, parent.id if parent else None, loop_index, attempt

    def _key_of(self, run: TaskRun) -> tuple:
        again = run.step_id in self.flow.per_attempt
        return run.step_id, run.parent_id, run.loop_index, run.execution_attempt if again else 0

    # --- entry point -------------------------------------------------------------------

    def advance(self, *, claim_inline: str | None = None) -> Tick:
        """Walk the flow once. With `claim_inline` (a worker id), a single new runnable step is
        created RUNNING and leased to that worker, so it can run without a queue hop."""
        execution = self.execution
        if execution.status in (E.SUCCESS, E.WARNING, E.FAILED, E.CANCELLED, E.TIMED_OUT, E.PAUSED):
            self.tick.finished = execution.is_terminal
            return self.tick
        if execution.status == E.QUEUED:
            deadline = None
            if execution.timeout_seconds:
                deadline = timezone.now() + timedelta(seconds=execution.timeout_seconds)
            transition(execution, E.RUNNING, message="Execution started", deadline=deadline)
        if execution.ending:
            self._walk_ending()
        else:
            state = self._walk_graph() if self.flow.is_graph else self._walk_block(self.flow.main, None, None)
            if state.outcome is Outcome.DONE:
                self._end_after_finally(E.SUCCESS)
            elif state.outcome is Outcome.FAILED:
                handled = self._walk_block(self.flow.errors, None, None) if self.flow.errors.steps else None
                if handled is None or handled.outcome is not Outcome.ACTIVE:
                    self._end_after_finally(E.FAILED, failed=state.failed)
        self._create_pending(claim_inline)
        if not self.tick.finished:
            self._settle_waiting()
        self.tick.task_runs = self.view.task_runs
        return self.tick

    # --- graphs (nodes format) ---------------------------------------------------------

    def _walk_graph(self) -> BlockState:
        """Follow `next` from the latest node; nodes that end at once (conditions, fail) loop on."""
        while True:
            runs = [run for run in self.view.task_runs if self.flow.block_of(run.step_id) is self.flow.main]
            last = max(runs, key=lambda run: run.sequence, default=None)
            if last is None:
                target = self.flow.entry()
            elif last.status in ACTIVE:
                return BlockState(Outcome.ACTIVE)
            elif last.status in FAILED_STATUSES:
                target = self.flow.successor(last.step_id, ir.ERROR) if last.status != T.CANCELLED else None
                if target is None and self._failure_allowed(last):  # on along the node's other routes
                    target = self.flow.successor(last.step_id, last.outcome or None)
                    if target is None:
                        return BlockState(Outcome.DONE)
                if target is None:
                    return BlockState(Outcome.FAILED, last)
            else:
                target = self.flow.successor(last.step_id, last.outcome or None)
            if target is None:
                return BlockState(Outcome.DONE)
            run = self._start_step(target, None, None)
            if run is None or run.status in ACTIVE:
                return BlockState(Outcome.ACTIVE)

    # --- blocks (tasks format and control children) -------------------------------------

    def _walk_block(self, block: ir.Block, parent: TaskRun | None, loop_index: int | None) -> BlockState:
        # Each walk goes over the block's steps from the first: in a long flow, over every step
        # done so far, so a done step is passed over at the cost of a lookup.
        index, key, done = self.index, self._key, (T.SUCCESS, T.SKIPPED)
        for step in block.steps:
            run = index.get(key(step.id, parent, loop_index))
            if run is None:
                run = self._start_step(step, parent, loop_index)
                if run is None or not step.control:
                    return BlockState(Outcome.ACTIVE)
            elif run.status in done:
                continue
            state = self._step_state(step, run)
            if state.outcome is not Outcome.DONE:
                return state
        return BlockState(Outcome.DONE)

    def _failure_allowed(self, run: TaskRun) -> bool:
        """A failed or timed-out step with `allowFailure` (a cancelled one never goes on)."""
        if not self.flow.allows_failure or run.status not in (T.FAILED, T.TIMED_OUT):
            return False
        step = self.flow.get_step(run.step_id)
        return step is not None and step.allow_failure

    def _step_state(self, step: ir.Step, run: TaskRun) -> BlockState:
        if run.status in (T.SUCCESS, T.SKIPPED):
            return BlockState(Outcome.DONE)
        if run.status in FAILED_STATUSES:
            return BlockState(Outcome.DONE if self._failure_allowed(run) else Outcome.FAILED, run)
        if step.control and run.status == T.QUEUED:  # a control step re-opened by an execution retry
            transition(run, T.RUNNING, message=f"Step '{run.name}' started again")
            if step.type not in ir.BLOCK_TYPES:
                self._open_control(step, run)
                return self._step_state(step, run)
        if not step.control or step.type not in ir.BLOCK_TYPES or run.status != T.RUNNING:
            return BlockState(Outcome.ACTIVE)
        state = self._walk_children(step, run)
        if state.outcome is Outcome.DONE:
            transition(run, T.SUCCESS, outputs=self._control_outputs(step, run), message=f"Step '{run.name}' done")
        elif state.outcome is Outcome.FAILED:
            error = f"Step '{state.failed.name}' failed: {state.failed.error}" if state.failed else "A step failed."
            transition(run, T.FAILED, error=error, level="error", message=error)
        return state

    def _walk_children(self, step: ir.Step, run: TaskRun) -> BlockState:
        if step.type in (ir.IF, ir.SWITCH):
            block = step.branch(run.state.get("branch"))
            return self._walk_block(block, run, run.loop_index) if block else BlockState(Outcome.DONE)
        if step.type == ir.SEQUENTIAL:
            return self._walk_block(step.blocks["tasks"], run, run.loop_index)
        if step.type == ir.PARALLEL:
            lanes = [ir.Block(f"{step.id}:lane:{child.id}", [child]) for child in step.blocks["tasks"].steps]
            return self._walk_lanes(lanes, run, [run.loop_index] * len(lanes), step.concurrency)
        items = run.state.get("items", [])
        block = step.blocks["tasks"]
        return self._walk_lanes([block] * len(items), run, list(range(len(items))), step.concurrency or 1)

    def _walk_lanes(
        self, lanes: list[ir.Block], parent: TaskRun, indexes: list[int | None], limit: int | None
    ) -> BlockState:
        """Run blocks side by side, at most `limit` at once. After a failure no new lane starts,
        and the whole fails once no lane is still running."""
        running, waiting_for_slot = 0, False
        failures: list[TaskRun | None] = []
        for lane, index in zip(lanes, indexes, strict=True):
            started = not lane.steps or self.index.get(self._key(lane.steps[0].id, parent, index)) is not None
            if not started and (failures or (limit is not None and running >= limit)):
                waiting_for_slot = waiting_for_slot or not failures
                continue
            state = self._walk_block(lane, parent, index)
            if state.outcome is Outcome.ACTIVE:
                running += 1
            elif state.outcome is Outcome.FAILED:
                failures.append(state.failed)
        if failures and not running:
            return BlockState(Outcome.FAILED, failures[0])
        if running or waiting_for_slot or failures:
            return BlockState(Outcome.ACTIVE)
        return BlockState(Outcome.DONE)

    # --- starting steps ----------------------------------------------------------------

    def _next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence

    def _new_run(self, step: ir.Step, parent: TaskRun | None, loop_index: int | None, status: str) -> TaskRun:
        scope = dict(parent.state.get("scope", {})) if parent else {}
        if parent is not None and parent.plugin_type == ir.FOR_EACH and loop_index is not None:
            items = parent.state.get("items", [])
            scope = {**scope, "item": items[loop_index] if loop_index < len(items) else None, "index": loop_index}
        deadline = timezone.now() + timedelta(seconds=step.timeout) if step.timeout else None
        run = TaskRun(
            id=uuid.uuid4(),
            execution=self.execution,
            parent=parent,
            step_id=step.id,
            name=step.name,
            plugin_type=step.type,
            sequence=self._next_sequence(),
            loop_index=loop_index,
            status=status,
            state={"scope": scope} if scope else {},
            deadline=deadline,
            execution_attempt=self.execution.attempt,
        )
        self.index[self._key(step.id, parent, loop_index)] = run
        self.view.add(run)
        return run

    def _start_step(self, step: ir.Step, parent: TaskRun | None, loop_index: int | None) -> TaskRun | None:
        if len(self.view.task_runs) >= settings.MILLRACE_STEP_LIMIT:
            self._fail_execution(f"The execution took more than {settings.MILLRACE_STEP_LIMIT} steps.")
            return None
        if step.control:
            if self.flow.is_graph and step.type in (ir.IF, ir.SWITCH) and not step.child_blocks():
                return self._start_graph_condition(step, parent, loop_index)
            return self._start_control(step, parent, loop_index)
        run = self._new_run(step, parent, loop_index, T.QUEUED)
        self.pending.append(run)
        return run

    def _start_graph_condition(self, step: ir.Step, parent: TaskRun | None, loop_index: int | None) -> TaskRun:
        """A flow.if/flow.switch node in a graph only picks the outcome its `next` routes on."""
        run = self._new_run(step, parent, loop_index, T.RUNNING)
        task_runs_create([run])
        try:  # the outcome is stored and shown as it is: a secret cannot choose it
            value = render_control(self.view, run, step, "condition" if step.type == ir.IF else "value")
        except Exception as exc:  # a condition that cannot be evaluated fails its step
            self._fail_control(step, run, exc)
            return run
        outcome = _truth(value) if step.type == ir.IF else value
        outcome_text = str(outcome).lower() if isinstance(outcome, bool) else str(outcome)
        transition(
            run,
            T.SUCCESS,
            outcome=outcome_text,
            outputs={"value": value},
            message=f"Step '{run.name}' chose '{outcome_text}'",
        )
        return run

    def _start_control(self, step: ir.Step, parent: TaskRun | None, loop_index: int | None) -> TaskRun:
        run = self._new_run(step, parent, loop_index, T.RUNNING)
        try:
            if step.type == ir.IF:
                run.state["branch"] = _truth(render_control(self.view, run, step, "condition"))
            elif step.type == ir.SWITCH:
                run.state["branch"] = render_control(self.view, run, step, "value")
            elif step.type == ir.FOR_EACH:
                items = render_control(self.view, run, step, "items")
                if not isinstance(items, list):
                    raise ValueError(f"forEach items must be a list, not {type(items).__name__}")
                run.state["items"] = items
        except Exception as exc:  # a control expression that cannot be evaluated fails its step
            task_runs_create([run])
            self._fail_control(step, run, exc)
            return run
        task_runs_create([run])
        self._open_control(step, run)
        return run

    def _open_control(self, step: ir.Step, run: TaskRun) -> None:
        """The actions of control steps that wait or end at once: fail, approval gate, subflow,
        labels (kept in clear, so rendered without secrets)."""
        try:
            if step.type == ir.FAIL:
                _, shown = render_control_redacted(self.view, run, step, "message")
                message = str(shown or f"Flow failed at '{step.name}'.")
                transition(run, T.FAILED, error=message, level="error", message=message)
            elif step.type == ir.PAUSE:
                approval_open(run)
                # the question approvers are shown (console and API), rendered with secrets masked
                asked = run.inputs
                if "message" in step.inputs:
                    asked = {"message": render_control_redacted(self.view, run, step, "message")[1]}
                transition(run, T.WAITING, message=f"Step '{run.name}' waits for approval", inputs=asked)
            elif step.type == ir.SUBFLOW:
                child = subflow_start(self.view, run, step)
                self.tick.subflows.append(child)
                transition(
                    run,
                    T.WAITING,
                    message=f"Step '{run.name}' waits for execution {child.id}",
                    state={**run.state, "child": str(child.id)},
                )
            elif step.type == ir.LABELS:
                labels = labels_merge(self.execution, render_control(self.view, run, step, "labels"))
                message = f"Step '{run.name}' set labels"
                transition(run, T.SUCCESS, inputs={"labels": labels}, outputs={"labels": labels}, message=message)
        except StaleStatus:
            raise  # the execution moved meanwhile: the caller's transaction rolls back
        except Exception as exc:
            self._fail_control(step, run, exc)

    def _fail_control(self, step: ir.Step, run: TaskRun, exc: Exception) -> None:
        error = f"Step '{step.name}': {getattr(exc, 'message', None) or exc}"
        transition(run, T.FAILED, error=error, level="error", message=error)

    def _create_pending(self, claim_inline: str | None) -> None:
        if not self.pending:
            return
        if claim_inline and len(self.pending) == 1 and not self._other_runnable():
            until = timezone.now() + timedelta(seconds=settings.MILLRACE_LEASE_SECONDS)
            task_run_lease_new(self.pending[0], claim_inline, until)
        task_runs_create(self.pending)
        self.tick.runnable = list(self.pending)

    def _other_runnable(self) -> bool:
        return any(run.status == T.QUEUED and run not in self.pending for run in self.view.task_runs)

    # --- ending ------------------------------------------------------------------------

    def _control_outputs(self, step: ir.Step, run: TaskRun) -> Any:
        children = [child for child in self.view.task_runs if child.parent_id == run.id]
        if step.type == ir.FOR_EACH:
            iterations: list[dict[str, Any]] = [{} for _ in run.state.get("items", [])]
            for child in children:
                if child.loop_index is not None and child.loop_index < len(iterations):
                    iterations[child.loop_index][child.name] = child.outputs
            return {"iterations": iterations}
        return {child.name: child.outputs for child in children}

    def _finish(self, status: str, *, failed: TaskRun | None = None) -> None:
        execution = self.execution
        if status == E.SUCCESS:
            try:
                outputs = self._outputs(strict=True)
            except OutputError as exc:  # a declared output that cannot be had fails the execution
                execution.error = str(exc)
            else:
                warned = self.flow.allows_failure and any(self._failure_allowed(run) for run in self.view.task_runs)
                transition(
                    execution,
                    E.WARNING if warned else E.SUCCESS,
                    outputs=outputs,
                    message="Execution completed with allowed failures" if warned else "Execution completed",
                    level="warn" if warned else "info",
                    **self._progress(),
                )
                self.tick.finished = True
                return
        error = execution.error or (
            f"Task '{failed.name}' failed: {failed.error}" if failed and failed.error else "The execution failed."
        )
        transition(
            execution,
            E.FAILED,
            error=error,
            level="error",
            message=error,
            outputs=self._outputs(strict=False),
            **self._progress(),
        )
        self.tick.finished = True

    def _outputs(self, *, strict: bool) -> Any:
        """Declared outputs when the flow has them, else its steps' (see `final_outputs`)."""
        if not self.flow.outputs:
            return self.view.final_outputs()
        return declared_outputs(self.view, strict=strict)

    def _end_after_finally(self, status: str, *, failed: TaskRun | None = None) -> None:
        """End `status` once the `finally` tasks (if any) have run; a failed one fails the execution."""
        if self.flow.finally_.steps:
            state = self._walk_block(self.flow.finally_, None, None)
            if state.outcome is Outcome.ACTIVE:
                return
            if state.outcome is Outcome.FAILED and status == E.SUCCESS:
                status, failed = E.FAILED, state.failed
        self._finish(status, failed=failed)

    def _walk_ending(self) -> None:
        """Cancelled or timed out while the flow has `finally` tasks (`lifecycle.execution_end`):
        once the steps still running have recorded their result, run the `finally` tasks, then
        end as decided (CANCELLED or TIMED_OUT, whatever they do; a failure is added to the error)."""
        finally_ids = {step.id for step in _block_steps(self.flow.finally_)}
        for run in self.view.task_runs:  # a step that failed as the end came must not be retried
            if run.step_id not in finally_ids and run.status in (T.QUEUED, T.RETRYING):
                transition(run, T.CANCELLED, message=f"Step '{run.name}' cancelled", wake_at=None)
        if any(
            run.status in ACTIVE and run.plugin_type not in ir.BLOCK_TYPES and run.step_id not in finally_ids
            for run in self.view.task_runs
        ):
            return
        state = self._walk_block(self.flow.finally_, None, None)
        if state.outcome is Outcome.ACTIVE:
            return
        execution = self.execution
        error = execution.error
        if state.outcome is Outcome.FAILED and state.failed is not None:
            error = f"{error} Finally task '{state.failed.name}' failed: {state.failed.error}".strip()
        transition(
            execution,
            execution.ending,
            ending="",
            error=error,
            level="error",
            message=error or f"Execution {execution.ending.lower()}",
            outputs=self._outputs(strict=False),
            **self._progress(),
        )
        self.tick.finished = True

    def _fail_execution(self, error: str) -> None:
        self.execution.error = error

    def _settle_waiting(self) -> None:
        """RUNNING while anything can run; WAITING when every active step waits on the outside."""
        active = [run for run in self.view.task_runs if run.status in ACTIVE and run.plugin_type not in ir.BLOCK_TYPES]
        execution = self.execution
        if execution.error and not execution.is_terminal and not execution.ending:
            self._finish(E.FAILED)
            return
        waiting = bool(active) and all(run.status in (T.WAITING, T.RETRYING) for run in active)
        if waiting and execution.status == E.RUNNING:
            transition(execution, E.WAITING, message="Execution waits", **self._progress())
        elif not waiting and execution.status == E.WAITING:
            transition(execution, E.RUNNING, message="Execution resumed", **self._progress())

    def _progress(self) -> dict[str, int]:
        """Counters written with each execution transition (not per step: that would cost a write)."""
        executed = sum(
            1
            for run in self.view.task_runs
            if run.status in TERMINAL_TASK_STATUSES and run.plugin_type not in ir.BLOCK_TYPES
        )
        return {"steps_taken": len(self.view.task_runs), "tasks_executed": executed}


def _block_steps(block: ir.Block) -> list[ir.Step]:
    """Every step of `block`, nested ones included."""
    found: list[ir.Step] = []
    for step in block.steps:
        found.append(step)
        for child in step.child_blocks():
            found.extend(_block_steps(child))
    return found


def _truth(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes", "on"}
    return bool(value)


def is_terminal_task(run: TaskRun) -> bool:
    return run.status in TERMINAL_TASK_STATUSES
