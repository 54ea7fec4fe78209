"""Top-level `outputs:` — what an execution of the flow answers, declared.

`outputs: [{id, type, value, description}]`: `value` is a template (or any JSON-like value
holding templates) rendered over the execution when it ends; `type` is one of STRING, INT,
FLOAT, BOOLEAN, JSON (default STRING). Both formats take the key at the top level.
"""

from __future__ import annotations

import re
from typing import Any

from flows.definitions.fields import text, type_name, unknown_keys
from flows.definitions.ir import FlowOutput, OutputType
from flows.definitions.problems import Path, Problems, key_text

_OUTPUT_KEYS = {"id", "type", "value", "description", "displayName"}
_OUTPUT_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$")


def flow_outputs(problems: Problems, value: Any, path: Path) -> list[FlowOutput]:
    """The declared outputs; a repeated id, an unknown type or a missing value is a problem."""
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add(path, f"outputs must be a list of {{id, type, value}}, not {type_name(value)}", "invalid_type")
        return []
    declared: list[FlowOutput] = []
    first_at: dict[str, int] = {}
    for index, raw in enumerate(value):
        item_path = (*path, index)
        if not isinstance(raw, dict):
            problems.add(item_path, "an output must be a mapping with 'id', 'type' and 'value'", "invalid_type")
            continue
        raw = {key_text(key): item for key, item in raw.items()}
        unknown_keys(problems, raw, _OUTPUT_KEYS, item_path, "an output")
        output_id = text(problems, raw, "id", item_path, required=True)
        if output_id and not _OUTPUT_ID.match(output_id):
            problems.add(
                (*item_path, "id"),
                f"output id '{output_id[:100]}' must start with a letter or '_' and use letters, digits, '_', '.', '-'",
                "invalid_value",
            )
        elif output_id in first_at:
            problems.add(
                (*item_path, "id"),
                f"duplicate output id '{output_id}' (first declared at outputs[{first_at[output_id]}])",
                "duplicate_name",
            )
        elif output_id:
            first_at[output_id] = index
        kind = OutputType.STRING
        raw_type = raw.get("type", "STRING")
        if isinstance(raw_type, str) and raw_type.upper() in OutputType.__members__:
            kind = OutputType(raw_type.upper())
        else:
            problems.add(
                (*item_path, "type"),
                f"unknown output type '{raw_type}'; use one of {', '.join(OutputType)}",
                "invalid_value",
            )
        if "value" not in raw:
            problems.add(item_path, "an output needs a 'value'", "missing")
        description = text(problems, raw, "description", item_path)
        declared.append(FlowOutput(output_id, kind, raw.get("value"), description, item_path))
    return declared
