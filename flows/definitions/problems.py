"""Problems found in a flow definition, where they are, and the error that carries them.

Editors and the validate endpoints must point at every mistake at once, so parsing and
validation never stop at the first one: they add to a `Problems` collector, which knows
the source line of every path (see `SourceMap`), and the caller raises `DefinitionError`
with all of them at the end.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

PathPart = str | int
Path = tuple[PathPart, ...]

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_\-]+$")


def key_text(key: Any) -> str:
    """The text of a YAML mapping key as used in paths, outcomes and switch cases.

    YAML turns `true:`/`false:` keys into booleans and `1:` into an integer; the IR keys
    everything by text so that an outcome `"true"` finds the branch written as `true:`.
    """
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)


def format_path(path: Path) -> str:
    """`("tasks", 1, "properties", "url")` → `tasks[1].properties.url`; odd keys are quoted."""
    out = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(str(part)):
            out += f".{part}" if out else str(part)
        else:
            out += f"[{json.dumps(str(part))}]"
    return out


@dataclass(frozen=True)
class Problem:
    """One mistake: `path` like `tasks[1].properties.url`, 1-based `line` (None if unknown)."""

    path: str
    line: int | None
    message: str
    code: str = "invalid"

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "message": self.message}

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "line ?"
        return f"{self.path or '(definition)'} ({where}): {self.message}"


class DefinitionError(ValueError):
    """A definition that cannot be compiled; `problems` lists every mistake found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        shown = "; ".join(str(problem) for problem in self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(f"Invalid flow definition: {shown}{more}")

    def as_dicts(self) -> list[dict[str, Any]]:
        return [problem.as_dict() for problem in self.problems]


class SourceMap:
    """Path → 1-based line. A path with no entry takes the line of its nearest ancestor.

    Mapping entries map to the line of their key (where an editor should point, even when
    the value is a nested block starting on the next line); list items to their first line.
    """

    def __init__(self, lines: dict[Path, int] | None = None) -> None:
        self.lines: dict[Path, int] = lines or {}

    def line(self, path: Path) -> int | None:
        for end in range(len(path), -1, -1):
            found = self.lines.get(path[:end])
            if found is not None:
                return found
        return None


class Problems:
    """Collects problems with their lines; iterate or `sorted()` to read them back."""

    def __init__(self, source_map: SourceMap | None = None) -> None:
        self.source_map = source_map or SourceMap()
        self._items: list[Problem] = []

    def add(self, path: Path, message: str, code: str = "invalid") -> None:
        self._items.append(Problem(format_path(path), self.source_map.line(path), message, code))

    def extend(self, problems: list[Problem]) -> None:
        self._items.extend(problems)

    def sorted(self) -> list[Problem]:
        """In source order (problems without a line last), then in the order they were found."""
        return sorted(self._items, key=lambda p: (p.line is None, p.line or 0))

    def __iter__(self) -> Iterator[Problem]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)
