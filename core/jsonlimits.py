"""JSON whose nesting is bounded, checked without recursion.

Python's json module recurses once per level: a body of a thousand `[` raises RecursionError
(a 500), and a deep document that still parses overflows whatever walks it next (validation,
the JSON columns, the queue's pickling). `loads` measures the nesting of the text first, with
regular expressions and a running sum rather than a parser, so the check cannot overflow itself;
`value_depth` does the same for values already parsed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from itertools import accumulate
from typing import Any

#: Nesting any JSON document may have (request bodies, query parameters, admin forms): far
#: beyond real documents, far below the interpreter's recursion limit.
MAX_JSON_DEPTH = 128

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class JSONTooDeep(ValueError):
    """The document nests deeper than allowed (a ValueError, as any malformed JSON)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"The JSON nests deeper than {limit} levels.")
        self.limit = limit


def text_depth(text: str) -> int:
    """How deep the JSON text nests (`{}` is 1); brackets inside strings do not count."""
    if "[" not in text and "{" not in text:
        return 0
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def text_too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text nests deeper than `limit` (cheap when it has few brackets at all)."""
    if text.count("[") + text.count("{") <= limit:
        return False
    return text_depth(text) > limit


def refuse_constant(name: str) -> Any:
    """Python's json reads `NaN` and `Infinity`, which JSON has not; nothing Millrace stores
    (JSON columns, step outputs) can hold them, so a document using them is not JSON here."""
    raise ValueError(f"{name} is not a JSON value")


def loads(
    text: str | bytes,
    *,
    max_depth: int = MAX_JSON_DEPTH,
    parse_constant: Callable[[str], Any] = refuse_constant,
) -> Any:
    """`json.loads` that raises JSONTooDeep (a ValueError) instead of recursing too deep, and
    a ValueError for `NaN`/`Infinity` unless `parse_constant` says otherwise."""
    if isinstance(text, bytes | bytearray):
        text = text.decode("utf-8")
    if text_too_deep(text, max_depth):
        raise JSONTooDeep(max_depth)
    try:
        return json.loads(text, parse_constant=parse_constant)
    except RecursionError:  # belt and braces: the scan above bounds the depth
        raise JSONTooDeep(max_depth) from None


def value_depth(value: Any, limit: int | None = None) -> int:
    """How deep lists and dicts nest in `value` (a scalar is 0, `{}` is 1), walked with a stack.

    With `limit`, stops as soon as the depth passes it (returning limit + 1).
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if limit is not None and deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list | tuple))
    return deepest
