"""Replay from a task (Kestra's replay): a new execution of the same flow and inputs that keeps
what an ended execution did before a chosen task run and runs from it.

Kept, as copies: every SUCCESS task run created before the chosen one (lower `sequence`) whose
step the replayed revision still has, outside the `errors` and `finally` blocks (those run
again per attempt). The control steps the chosen run sits in (a forEach, a branch, a
sequential group) are copied RUNNING with their state (items, branch, scope), so the walk
enters them again and starts the chosen step afresh, then everything after it. The
orchestrator cannot tell a copy from a run it made: outputs of kept steps feed templates as
before. The new execution links to the original (`Execution.original`); its first walk reads
its task runs (see `runner._first_start`). Labels that kept `execution.labels` steps set are
set on it again, as those steps left them. The original's files it carries on (FILE inputs,
kept outputs) are copied under the replay (`file_copies`): it reads, links and keeps them as
its own, whatever becomes of the original.
"""

from __future__ import annotations

import contextlib
import copy
import uuid

from accounts.models import Account
from core.errors import BadRequest
from executions.engine.callbacks import without_callbacks
from executions.engine.compiler import compiled
from executions.engine.file_copies import FileAdopter
from executions.engine.inputs import inputs_unseal
from executions.engine.labels import LabelError, labels_merge
from executions.engine.lifecycle import execution_create
from executions.engine.transitions import task_runs_copy
from executions.models import Execution, TaskRun, TaskStatus
from flows.definitions.ir import LABELS, Block, CompiledFlow
from flows.models import Flow

T = TaskStatus


def _ancestors(chosen: TaskRun, by_id: dict) -> set:
    found, parent = set(), chosen.parent_id
    while parent is not None and parent in by_id:
        found.add(parent)
        parent = by_id[parent].parent_id
    return found


def _top_block(definition: CompiledFlow, step_id: str) -> Block:
    """The top-level block (`main`, `errors`, `finally`) a step is in, however deep."""
    while (parent := definition.parent(step_id)) is not None:
        step_id = parent.id
    return definition.block_of(step_id)


def replay_create(
    *,
    original: Execution,
    chosen: TaskRun,
    flow: Flow,
    source: str,
    revision: int,
    created_by: Account | None,
    replay_id: uuid.UUID,
) -> Execution:
    """Write the QUEUED replay `replay_id` of `original` from `chosen` on `source` (revision
    `revision` of `flow`) with the task runs it keeps; the caller dispatches its start, and
    deletes the replay's copied files when the write does not commit."""
    definition = compiled(source)
    runs = list(TaskRun.objects.filter(execution=original).order_by("sequence"))
    by_id = {run.pk: run for run in runs}
    ancestors = _ancestors(chosen, by_id)
    for step_id in [chosen.step_id, *(by_id[pk].step_id for pk in ancestors)]:
        if definition.get_step(step_id) is None:
            raise BadRequest(
                f"Task '{chosen.name}' is not in revision {revision} of flow '{flow.name}'.",
                details={"field": "taskRunId", "reason": "not in the revision"},
            )
    per_attempt = {id(definition.errors), id(definition.finally_)}
    at_revision = copy.copy(flow)  # the flow as it was at that revision, for execution_create
    at_revision.source, at_revision.revision = source, revision
    files = FileAdopter(namespace=original.namespace.name, source_id=str(original.pk), target_id=str(replay_id))
    replay = execution_create(
        flow=at_revision,
        # SECRET inputs are stored masked and sealed: the replay gets them in clear, sealed anew
        inputs=files.adopt({**(original.inputs or {}), **inputs_unseal(original.pk, original.sealed_inputs)}),
        origin="replay",
        created_by=created_by,
        trigger=original.trigger,
        trigger_data=without_callbacks(original.trigger_data or {}),
        execution_id=replay_id,
    )
    Execution.objects.filter(pk=replay.pk).update(original=original)
    replay.original = original
    copies: dict = {}
    for run in runs:
        reopened = run.pk in ancestors
        kept = (
            run.status == T.SUCCESS
            and run.sequence < chosen.sequence
            and definition.get_step(run.step_id) is not None
            and id(_top_block(definition, run.step_id)) not in per_attempt
        )
        if not (reopened or kept) or (run.parent_id is not None and run.parent_id not in copies):
            continue
        copies[run.pk] = TaskRun(
            id=uuid.uuid4(),
            execution=replay,
            parent_id=copies[run.parent_id].pk if run.parent_id is not None else None,
            step_id=run.step_id,
            name=run.name,
            plugin_type=run.plugin_type,
            sequence=run.sequence,
            loop_index=run.loop_index,
            status=T.RUNNING if reopened else T.SUCCESS,
            attempt=run.attempt,
            inputs=files.adopt(run.inputs),
            outputs=None if reopened else files.adopt(run.outputs),
            outcome="" if reopened else run.outcome,
            state=files.adopt({k: v for k, v in (run.state or {}).items() if k in ("scope", "items", "branch")}),
            execution_attempt=replay.attempt,
            started_at=run.started_at,
            finished_at=None if reopened else run.finished_at,
        )
    task_runs_copy(list(copies.values()), original_id=original.pk)
    kept_labels = [
        run.outputs["labels"]
        for run in sorted(copies.values(), key=lambda run: run.sequence)
        if run.plugin_type == LABELS and run.status == T.SUCCESS and isinstance(run.outputs, dict)
    ]
    if kept_labels:
        with contextlib.suppress(LabelError):  # set once within the limits: only a changed flow breaks them
            labels_merge(replay, {key: value for labels in kept_labels for key, value in labels.items()})
    return replay
