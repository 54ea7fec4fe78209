"""`concurrency: {limit, behavior}` (Kestra's names): how many executions of a flow may be live at
once, and what a start beyond that does. Tasks flows write it at the top level, nodes flows in
`metadata`. The engine applies it (`executions/engine/concurrency.py`).
"""

from __future__ import annotations

from typing import Any

from flows.definitions.fields import type_name, unknown_keys
from flows.definitions.ir import Concurrency, ConcurrencyBehavior
from flows.definitions.problems import Path, Problems, key_text

_KEYS = {"limit", "behavior"}


def concurrency(problems: Problems, value: Any, path: Path) -> Concurrency | None:
    """The limit, or None (absent or invalid: every mistake is a problem with its line)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        problems.add(
            path, f"concurrency must be a mapping with 'limit' and 'behavior', not {type_name(value)}", "invalid_type"
        )
        return None
    raw = {key_text(key): item for key, item in value.items()}
    unknown_keys(problems, raw, _KEYS, path, "concurrency")
    limit = raw.get("limit")
    valid = True
    if "limit" not in raw:
        problems.add(path, "concurrency needs a 'limit' (how many executions may run at once)", "missing")
        valid = False
    elif not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        problems.add(
            (*path, "limit"), f"concurrency limit must be a whole number of at least 1, not {limit!r}", "invalid_value"
        )
        valid = False
    behavior = raw.get("behavior", ConcurrencyBehavior.QUEUE.value)
    word = behavior.upper() if isinstance(behavior, str) else None
    if word not in ConcurrencyBehavior.__members__:
        problems.add(
            (*path, "behavior"),
            f"unknown concurrency behavior {behavior!r}; use one of {', '.join(ConcurrencyBehavior)}",
            "invalid_value",
        )
        valid = False
    return Concurrency(limit, ConcurrencyBehavior(word)) if valid else None
