"""Check and convert execution inputs against the flow's declared inputs.

Undeclared inputs pass through unchanged (DIALECTS.md); declared ones are converted to
their type, defaults fill the gaps, and every problem is reported at once. Inputs nest at most
MAX_INPUT_DEPTH levels, as flow YAML does: deeper data overflowed the queue's pickling.
"""

import math
from typing import Any

from core import jsonlimits
from core.errors import BadRequest, ValidationFailed
from flows.definitions import ir

#: Levels of lists and objects an execution's inputs (the object itself is level 1) and
#: webhook body may have: the YAML limit (`flows.definitions.loader.DEFAULT_MAX_DEPTH`).
MAX_INPUT_DEPTH = 64


def _convert(declared: ir.FlowInput, value: Any) -> Any:
    kind = declared.type
    if kind == ir.InputType.STRING:
        if isinstance(value, dict | list):
            raise ValueError("expected a string")
        return value if isinstance(value, str) else str(value)
    if kind == ir.InputType.INT:
        if isinstance(value, bool):
            raise ValueError("expected an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            return int(value.strip())
        raise ValueError("expected an integer")
    if kind == ir.InputType.FLOAT:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError("expected a number")
        try:
            number = float(value)
        except ValueError:
            raise ValueError("expected a number") from None
        if not math.isfinite(number):  # JSON (and the JSON columns inputs go to) has no NaN or Infinity
            raise ValueError("expected a finite number")
        return number
    if kind == ir.InputType.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0", "yes", "no"}:
            return value.strip().lower() in {"true", "1", "yes"}
        raise ValueError("expected a boolean")
    if isinstance(value, str):
        return jsonlimits.loads(value, max_depth=MAX_INPUT_DEPTH - 1)
    return value


def ensure_shallow(value: Any, *, field: str, levels: int = MAX_INPUT_DEPTH) -> None:
    """400 when `value` nests deeper than `levels` (measured without recursion)."""
    if jsonlimits.value_depth(value, limit=levels) > levels:
        raise BadRequest(
            f"The {field} may nest at most {levels} levels deep.", details=[{"field": field, "reason": "too_deep"}]
        )


def coerce_inputs(flow: ir.CompiledFlow, given: Any) -> dict[str, Any]:
    ensure_shallow(given, field="inputs")
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ValidationFailed(
            "Inputs must be a JSON object.", details=[{"field": "inputs", "reason": "not an object"}]
        )
    result = dict(given)
    problems: list[dict[str, str]] = []
    for declared in flow.inputs:
        if declared.id not in given or given[declared.id] is None:
            if declared.has_default:
                result[declared.id] = declared.default
            elif declared.required:
                problems.append({"field": f"inputs.{declared.id}", "reason": "required"})
            continue
        try:
            result[declared.id] = _convert(declared, given[declared.id])
        except (ValueError, TypeError) as exc:
            problems.append({"field": f"inputs.{declared.id}", "reason": f"{exc} ({declared.type})"})
    if problems:
        raise ValidationFailed("The inputs do not match the flow's declared inputs.", details=problems)
    return result
