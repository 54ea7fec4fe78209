"""A flow's declared outputs (`outputs:`), rendered and typed when its execution ends.

When a flow declares outputs, they are all the execution answers (its `outputs`, FlowRunner's
`result`, a webhook's `?wait=true`): no step's outputs leak past them. Each `value` is rendered
over the execution — the outputs of every step that succeeded, the inputs, `vars`,
`execution`, `trigger` — then converted to its declared type. Secrets are masked as in step
inputs: a value a secret went into is stored whole as `******`.
"""

from __future__ import annotations

import json
import math
from typing import Any

from core import jsonlimits
from executions.engine.context import ExecutionView, VaultResolver
from executions.engine.templating import RenderContext, TemplateRenderer, TemplateRenderError
from executions.models import TaskStatus
from flows.definitions import ir


class OutputError(Exception):
    """A declared output that could not be rendered or is not of its type; names the output."""


def declared_outputs(view: ExecutionView, *, strict: bool = True) -> dict[str, Any]:
    """The flow's declared outputs by id. `strict`: the first bad one raises `OutputError`;
    otherwise (a failed execution) the outputs that cannot be had are left out."""
    renderer = TemplateRenderer(_context(view), VaultResolver(view.execution))
    values: dict[str, Any] = {}
    for output in view.flow.outputs:
        try:
            rendered = renderer.render(output.value, output.id)
            values[output.id] = renderer.redact(_typed(output.type, rendered), output.id)
        except (TemplateRenderError, ValueError) as exc:
            if strict:
                reason = exc.message if isinstance(exc, TemplateRenderError) else renderer.masker().mask_text(str(exc))
                raise OutputError(f"Output '{output.id}' ({output.type}): {reason}") from None
    return values


def _context(view: ExecutionView) -> RenderContext:
    execution = view.execution
    done = sorted((r for r in view.task_runs if r.status == TaskStatus.SUCCESS), key=lambda r: r.sequence)
    return RenderContext(
        inputs=view.template_inputs(),  # a SECRET input is a secret here too, masked if output
        outputs={run.name: run.outputs for run in done},
        vars=view.flow.variables,
        execution=view.execution_variables(),
        trigger=execution.trigger_data or {},
    )


def _typed(kind: ir.OutputType, value: Any) -> Any:
    """`value` as its declared type; ValueError says why it is not."""
    if kind == ir.OutputType.JSON:
        if isinstance(value, str):
            try:
                return jsonlimits.loads(value)  # bounded depth, no NaN/Infinity
            except ValueError:
                raise ValueError("expected JSON") from None
        return value
    if value is None or isinstance(value, dict | list):
        raise ValueError(f"expected a {kind.lower()}, got {'null' if value is None else type(value).__name__}")
    if kind == ir.OutputType.STRING:
        return value if isinstance(value, str) else json.dumps(value)
    if kind == ir.OutputType.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
            return value.strip().lower() == "true"
        raise ValueError(f"expected a boolean, got {value!r:.60}")
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    if kind == ir.OutputType.INT:
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            return int(value.strip())
        raise ValueError(f"expected an integer, got {value!r:.60}")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"expected a number, got {value!r:.60}") from None
    if not math.isfinite(number):
        raise ValueError("expected a finite number")
    return number
