"""Bounded capture of a script's output: the tail of a stream, and Kestra's `::{"outputs": ...}::` lines.

A script may print gigabytes; only the last `TAIL_BYTES` of each stream are kept, and only the
lines that announce outputs are parsed, each at most `VARS_LINE_BYTES` long, together at most
`VARS_TOTAL_BYTES`. Memory stays bounded whatever the script prints.
"""

from __future__ import annotations

from typing import Any

from core import jsonlimits

TAIL_BYTES = 64 * 1024
VARS_LINE_BYTES = 256 * 1024
VARS_TOTAL_BYTES = 1024 * 1024
MAX_PROBLEMS = 20
_PREFIX, _SUFFIX = b"::{", b"}::"
#: What a NUL character becomes: PostgreSQL's JSON cannot hold U+0000, and outputs holding one
#: could not be recorded. U+FFFD is what undecodable bytes become too.
NUL_REPLACEMENT = "\ufffd"


def storable(value: Any) -> Any:
    """`value` (JSON-like) with every NUL character in its strings and keys replaced."""
    if isinstance(value, str):
        return value.replace("\x00", NUL_REPLACEMENT)
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value


class Tail:
    """The last `limit` bytes written to it, and how many bytes were dropped before them."""

    def __init__(self, limit: int = TAIL_BYTES) -> None:
        self.limit = limit
        self.total = 0
        self._buffer = bytearray()

    def write(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self._buffer += chunk
        if len(self._buffer) > 2 * self.limit:  # trim in batches: one copy per `limit` bytes written
            del self._buffer[: len(self._buffer) - self.limit]

    def text(self) -> str:
        """The tail as text, `limit` bytes at most. When bytes were dropped it starts with a
        marker saying how many (counted within the limit), then at a line start, so it never
        begins inside a line (nor a secret that masking must find)."""
        if self.total <= self.limit:
            return storable(bytes(self._buffer).decode("utf-8", errors="replace"))
        room = self.limit - len(self._marker(self.total, self.total))  # the longest marker this tail can need
        data = bytes(self._buffer[-max(room, 0) :]) if room > 0 else b""
        newline = data.find(b"\n")
        if newline != -1:
            data = data[newline + 1 :]
        return self._marker(self.total - len(data), len(data)) + storable(data.decode("utf-8", errors="replace"))

    @staticmethod
    def _marker(dropped: int, kept: int) -> str:
        return f"[... {dropped} bytes truncated; the last {kept} bytes follow ...]\n"


class VarsScanner:
    """Reads stdout as it comes and merges the `outputs` of every `::{"outputs": {...}}::` line.

    A malformed announcement is noted in `problems` and skipped; one that is too long, or that
    would take the total over `VARS_TOTAL_BYTES`, makes `error` say so (the step then fails).
    """

    def __init__(self) -> None:
        self.vars: dict[str, Any] = {}
        self.problems: list[str] = []
        self.error: str | None = None
        self._line = bytearray()
        self._overflow = False
        self._total = 0
        self._number = 0

    def write(self, chunk: bytes) -> None:
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            self._add(chunk[start:] if end == -1 else chunk[start:end])
            if end == -1:
                return
            self._end_line()
            start = end + 1

    def close(self) -> None:
        if self._line or self._overflow:
            self._end_line()

    def _add(self, piece: bytes) -> None:
        if self._overflow:
            return
        if len(self._line) + len(piece) > VARS_LINE_BYTES:
            self._overflow = True
            self._line = self._line[:16] + piece[: max(0, 16 - len(self._line))]  # enough to tell what it was
            return
        self._line += piece

    def _end_line(self) -> None:
        self._number += 1
        line = bytes(self._line).strip()
        overflow = self._overflow
        self._line, self._overflow = bytearray(), False
        if not line.startswith(_PREFIX):
            return
        if overflow:
            self._fail(f"Line {self._number} of stdout announces outputs in more than {VARS_LINE_BYTES} bytes.")
            return
        if not line.endswith(_SUFFIX):
            return
        self._total += len(line)
        if self._total > VARS_TOTAL_BYTES:
            self._fail(f"The outputs announced on stdout add up to more than {VARS_TOTAL_BYTES} bytes.")
            return
        try:
            announced = jsonlimits.loads(line[2:-2])
        except ValueError as error:
            self._note(f"Line {self._number} of stdout is not valid JSON ({error}); it was ignored.")
            return
        outputs = announced.get("outputs") if isinstance(announced, dict) else None
        if not isinstance(outputs, dict):
            self._note(f"Line {self._number} of stdout has no 'outputs' object; it was ignored.")
            return
        self.vars.update(storable(outputs))

    def _note(self, problem: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    def _fail(self, message: str) -> None:
        if self.error is None:
            self.error = message
