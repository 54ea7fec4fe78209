"""What templates and plugins see of a running execution.

`ExecutionView` holds an execution, its compiled flow and its task runs, and builds the
template context of a step (inputs, outputs of earlier steps, vars, execution, trigger,
item/index). `StepContext` is the `PluginContext` a plugin gets: logging into the event
table (masked), namespaced KV, secrets, cancellation and the callback URL.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from functools import partial
from operator import attrgetter
from typing import Any

from django.conf import settings
from django.utils import timezone

from connectors.files import FileAccess
from core.filerefs import execution_prefix
from core.timefmt import isoformat
from executions.engine.compiler import compiled
from executions.engine.events import event_append
from executions.engine.inputs import inputs_unseal
from executions.engine.nulchars import without_nul
from executions.engine.templating import RenderContext, SecretInputs, TemplateRenderer
from executions.models import TERMINAL_EXECUTION_STATUSES, Execution, TaskRun, TaskStatus
from flows.definitions import ir
from flows.models import FlowRevision
from vault.kv import kv_delete, kv_put
from vault.masking import Masker
from vault.selectors import kv_value, secret_value


class VaultResolver:
    """`secret()`/`${NAME}`: the namespace's credentials, then the flow owner's account secrets."""

    def __init__(self, execution: Execution) -> None:
        self.execution = execution

    def secret(self, name: str) -> str:
        return secret_value(name=name, namespace_id=self.execution.namespace_id, account_id=self._owner())

    def _owner(self) -> object:
        """Whose account secrets `${NAME}` may use: the author of the revision that runs.

        Not the flow's creator: an editor who changes someone else's flow must not reach
        that person's secrets (saving checks `${NAME}` against the saver's own secrets).
        """
        if not hasattr(self, "_owner_id"):
            revision = (
                FlowRevision.objects.filter(flow_id=self.execution.flow_id, number=self.execution.flow_revision)
                .values_list("created_by_id", flat=True)
                .first()
                if self.execution.flow_id
                else None
            )
            self._owner_id = revision or self.execution.created_by_id
        return self._owner_id

    def kv(self, key: str) -> Any:
        return kv_value(namespace_id=self.execution.namespace_id, key=key)


class ExecutionView:
    def __init__(self, execution: Execution, flow: ir.CompiledFlow, task_runs: list[TaskRun]) -> None:
        self.execution = execution
        self.flow = flow
        self.task_runs = list(task_runs)

    def add(self, run: TaskRun) -> None:
        self.task_runs.append(run)

    def outputs_for(self, run: TaskRun) -> dict[str, Any]:
        """Outputs of earlier successful steps by name; the same forEach iteration wins.

        One pass over the runs, for each step whose inputs hold a template (`renderer`)."""
        success, parent, loop = TaskStatus.SUCCESS, run.parent_id, run.loop_index
        done = sorted((r for r in self.task_runs if r.status == success), key=attrgetter("sequence"))
        outputs, same_iteration = {}, {}
        for r in done:
            outputs[r.name] = r.outputs
            if r.loop_index == loop and r.parent_id == parent:  # the loop index first: the id is slower to get
                same_iteration[r.name] = r.outputs
        outputs.update(same_iteration)
        return outputs

    def _main_successes(self) -> list[TaskRun]:
        """Successful runs of the flow's top-level steps (a graph's nodes)."""
        return [
            r
            for r in self.task_runs
            if r.parent_id is None
            and r.status == TaskStatus.SUCCESS
            and self.flow.get_step(r.step_id) is not None
            and self.flow.block_of(r.step_id) is self.flow.main
        ]

    def previous_outputs(self, run: TaskRun) -> Any:
        """A graph node's input: the outputs of the node that ran before it, the run's inputs for the first."""
        earlier = [r for r in self._main_successes() if r.sequence < run.sequence]
        if not earlier:
            return self.execution.inputs or {}
        return max(earlier, key=lambda r: r.sequence).outputs

    def final_outputs(self) -> Any:
        """Graphs: the outputs of the last node that ran. Task lists: top-level outputs by name."""
        main = self._main_successes()
        if not main:
            return None
        if self.flow.is_graph:
            return max(main, key=lambda r: r.sequence).outputs
        return {r.name: r.outputs for r in sorted(main, key=lambda r: r.sequence)}

    def execution_variables(self) -> dict[str, Any]:
        """`execution` as templates see it (task inputs and declared outputs alike)."""
        execution = self.execution
        return {
            "id": str(execution.id),
            "namespace": execution.namespace.name,
            "flow": execution.flow_name,
            "flowId": str(execution.flow_id) if execution.flow_id else None,
            "attempt": execution.attempt,
            "startedAt": isoformat(execution.started_at),
        }

    def template_inputs(self) -> Any:
        """The inputs templates see: SECRET ones read as secrets (`SecretInputs`)."""
        execution = self.execution
        if not execution.sealed_inputs:
            return execution.inputs or {}
        if not hasattr(self, "_secret_inputs"):  # decrypted once per walk
            self._secret_inputs = inputs_unseal(execution.pk, execution.sealed_inputs)
        return SecretInputs(execution.inputs or {}, self._secret_inputs)

    def render_context(self, run: TaskRun) -> RenderContext:
        execution = self.execution
        scope = run.state.get("scope", {}) if run.state else {}
        return RenderContext(
            inputs=self.template_inputs(),
            outputs=self.outputs_for(run),
            vars=self.flow.variables,
            execution=self.execution_variables(),
            trigger=execution.trigger_data or {},
            item=scope.get("item"),
            index=scope.get("index"),
            message=scope.get("message"),
            task={"name": run.name, "attempt": run.attempt},
        )

    def renderer(self, run: TaskRun, *, secrets: bool = True) -> TemplateRenderer:
        return TemplateRenderer(partial(self.render_context, run), VaultResolver(self.execution), secrets=secrets)


def render_control(view: ExecutionView, run: TaskRun, step: ir.Step, key: str) -> Any:
    """Render one input of a control step that chooses a path (`condition`, `value`, `items`,
    the subflow). It may not read a secret: the branch, outcome and loop items it gives are
    kept in clear, and a loop item is no longer a secret when a later step renders it."""
    return view.renderer(run, secrets=False).render(step.inputs.get(key), key)


def render_control_redacted(view: ExecutionView, run: TaskRun, step: ir.Step, key: str) -> tuple[Any, Any]:
    """The rendered value, and the form of it that may be stored or shown (secrets masked)."""
    renderer = view.renderer(run)
    value = renderer.render(step.inputs.get(key), key)
    return value, renderer.redact(value, key)


def callback_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class StepContext(FileAccess):
    """The PluginContext of one task run; its files go under the execution's prefix."""

    def __init__(self, execution: Execution, run: TaskRun, used_secrets: set[str]) -> None:
        self.execution = execution
        self.run = run
        self.used_secrets = used_secrets
        self.masker = Masker(used_secrets)
        self.namespace = execution.namespace.name
        self.execution_id = str(execution.id)
        self.task_name = run.name
        self.state: dict[str, Any] = dict(run.state.get("plugin", {})) if run.state else {}
        self.execution_inputs: dict[str, Any] = dict(execution.inputs or {})
        self._callback_url: str | None = None
        self.delete_prefix = execution_prefix(self.namespace, self.execution_id)
        self.write_prefix = f"{self.delete_prefix}/tasks/{run.pk}"
        deadline = run.deadline
        self.deadline = time.monotonic() + (deadline - timezone.now()).total_seconds() if deadline else None

    def log(self, level: str, message: str, data: dict[str, Any] | None = None) -> None:
        event_append(
            execution_id=self.execution.id,
            task_run_id=self.run.id,
            type="log",
            level=level if level in ("debug", "info", "warn", "error") else "info",
            message=without_nul(self.masker.mask_text(str(message))),
            data=without_nul(self.masker.mask(data)) if data else None,
        )

    def kv_get(self, key: str) -> Any:
        try:
            return kv_value(namespace_id=self.execution.namespace_id, key=key)
        except LookupError:
            return None

    def kv_set(self, key: str, value: Any, ttl: int | None = None) -> None:
        kv_put(namespace_id=self.execution.namespace_id, key=key, value=value, ttl=ttl)

    def kv_delete(self, key: str) -> bool:
        return kv_delete(namespace_id=self.execution.namespace_id, key=key)

    def secret(self, name: str) -> str:
        value = VaultResolver(self.execution).secret(name)
        if value not in self.used_secrets:
            self.used_secrets.add(value)
            self.masker = Masker(self.used_secrets)
        return value

    def is_cancelled(self) -> bool:
        """True once the execution has ended for any reason (cancelled, timed out, failed by
        another step...) or is gone, once a cancel or flow timeout waits for the `finally`
        tasks (unless this step is one of them), or once this step was ended from outside:
        a long-running plugin (a script, a wait, a sleep) stops its work then."""
        row = (
            TaskRun.objects.filter(pk=self.run.pk)
            .values_list("status", "execution__status", "execution__ending")
            .first()
        )
        if row is None or row[0] != TaskStatus.RUNNING or row[1] in TERMINAL_EXECUTION_STATUSES:
            return True
        return bool(row[2]) and not self._in_finally()

    def _in_finally(self) -> bool:
        """Whether this step belongs to the flow's `finally` tasks, which run while it ends."""
        flow = compiled(self.execution.source)
        step_id = self.run.step_id
        while (parent := flow.parent(step_id)) is not None:
            step_id = parent.id
        return flow.block_of(step_id) is flow.finally_

    @property
    def callback_url(self) -> str:
        """An unguessable, single-use URL that completes this task run when PUT to.

        Its digest is stored at once, so a callback that arrives before the step has
        finished recording its WAITING result still finds the task run.
        """
        if self._callback_url is None:
            token = secrets.token_urlsafe(32)
            TaskRun.objects.filter(pk=self.run.pk).update(callback_digest=callback_digest(token))
            self.run.callback_digest = callback_digest(token)
            self._callback_url = f"{settings.MILLRACE_PUBLIC_URL}/v1/callbacks/{token}"
        return self._callback_url
