"""Safe, bounded YAML loading that remembers the line of every path.

Definitions come from tenants, so the loader trusts nothing: only pyyaml's safe loader
(the C one when available), a byte cap, and nesting, alias and expanded-size limits.
The limits are enforced on the event stream and on the composed node graph *before* any
Python value is built or walked, so a "billion laughs" document is refused after reading
at most its own bytes: aliases stay shared references while being counted, never copies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from flows.definitions.problems import DefinitionError, Path, Problem, SourceMap, format_path, key_text

try:
    from yaml import CSafeLoader as _SafeBase
except ImportError:  # pragma: no cover - libyaml missing
    from yaml import SafeLoader as _SafeBase  # type: ignore[assignment]

DEFAULT_MAX_BYTES = 1024 * 1024
DEFAULT_MAX_DEPTH = 64
DEFAULT_MAX_ALIASES = 100
DEFAULT_MAX_NODES = 100_000
#: libyaml's own nesting cap (MAX_NESTING_LEVEL); deeper documents stop in its scanner.
_PARSER_MAX_DEPTH = 1000
#: Integers longer than Python's default int/str conversion limit cannot be stored as JSON text.
MAX_INTEGER_DIGITS = 4300
_INTEGER_BOUND = 10**MAX_INTEGER_DIGITS


class _Loader(_SafeBase):  # type: ignore[misc, valid-type]
    """The safe loader, minus the types a JSON-shaped definition cannot carry."""


def _timestamp_as_text(loader: Any, node: ScalarNode) -> str:
    # `2026-03-25` stays the string the author wrote: inputs are stored as JSON.
    return loader.construct_scalar(node)


_INT_TAG = "tag:yaml.org,2002:int"


class _IntegerTooLarge(yaml.constructor.ConstructorError):
    """A value problem, not malformed YAML: the dialects answer it as a validation error."""


def _bounded_int(loader: Any, node: ScalarNode) -> int:
    # Python refuses decimal text over its conversion limit (ValueError), builds hex and
    # sexagesimal values of any size (the latter in quadratic time), and such a value
    # could not be written out as JSON later: bound the text first, then the value.
    too_large = _IntegerTooLarge(None, None, f"integer has more than {MAX_INTEGER_DIGITS} digits", node.start_mark)
    if len(node.value) > MAX_INTEGER_DIGITS + 3:  # sign and a 0x/0o/0b prefix
        raise too_large
    try:
        value = _SafeBase.construct_yaml_int(loader, node)
    except ValueError as exc:
        raise too_large from exc
    if abs(value) >= _INTEGER_BOUND:
        raise too_large
    return value


_FLOAT_TAG = "tag:yaml.org,2002:float"


class _NotFinite(yaml.constructor.ConstructorError):
    """`.inf`, `.nan` and floats past the double range: JSON (what inputs and outputs are
    stored as) has no such numbers, so a step given one could never be written."""


def _finite_float(loader: Any, node: ScalarNode) -> float:
    value = _SafeBase.construct_yaml_float(loader, node)
    if not math.isfinite(value):
        raise _NotFinite(None, None, f"'{node.value[:40]}' is not a finite number", node.start_mark)
    return value


def _refuse_tag(loader: Any, node: Node) -> Any:
    raise yaml.constructor.ConstructorError(
        None, None, f"the YAML tag {node.tag} is not allowed in a flow definition", node.start_mark
    )


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)
_Loader.add_constructor(_INT_TAG, _bounded_int)
_Loader.add_constructor(_FLOAT_TAG, _finite_float)
for _tag in ("binary", "set", "omap", "pairs"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse_tag)


@dataclass(frozen=True)
class YamlLimits:
    """Bounds on a definition. `max_nodes` counts nodes with every alias expanded."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH
    max_aliases: int = DEFAULT_MAX_ALIASES
    max_nodes: int = DEFAULT_MAX_NODES

    @classmethod
    def from_settings(cls) -> YamlLimits:
        """`MILLRACE_YAML_MAX_BYTES` (and optional `_MAX_DEPTH`, `_MAX_ALIASES`, `_MAX_NODES`)."""
        try:
            get = lambda name, default: int(getattr(settings, name, default))  # noqa: E731
            return cls(
                max_bytes=get("MILLRACE_YAML_MAX_BYTES", DEFAULT_MAX_BYTES),
                max_depth=get("MILLRACE_YAML_MAX_DEPTH", DEFAULT_MAX_DEPTH),
                max_aliases=get("MILLRACE_YAML_MAX_ALIASES", DEFAULT_MAX_ALIASES),
                max_nodes=get("MILLRACE_YAML_MAX_NODES", DEFAULT_MAX_NODES),
            )
        except ImproperlyConfigured:  # used outside Django (scripts, tooling)
            return cls()


@dataclass
class LoadedYaml:
    """The document's data, the line of each path, and non-fatal problems (duplicate keys)."""

    data: Any
    source_map: SourceMap
    problems: list[Problem] = field(default_factory=list)


def _fatal(message: str, code: str, line: int | None = 1, path: str = "") -> DefinitionError:
    return DefinitionError([Problem(path, line, message, code)])


def _too_deep(limits: YamlLimits, line: int | None) -> DefinitionError:
    if limits.max_depth < _PARSER_MAX_DEPTH:
        return _fatal(f"definition nests deeper than {limits.max_depth} levels", "too_deep", line)
    return _fatal("definition nests deeper than the YAML parser allows", "too_deep", line)


def _is_nesting_limit(exc: yaml.YAMLError) -> bool:
    """A parser layer's own depth limit, e.g. libyaml's "exceeded maximum nesting depth".

    PyYAML 6.0.4's bundled libyaml stops at 1000 levels while scanning ahead, before the
    event pass below has seen a single event; no exception type tells it apart, its text
    does (guarded by tests/core/test_library_contracts.py).
    """
    # Problem and context only: str(exc) may quote the document, which could say "nesting".
    text = f"{getattr(exc, 'problem', None) or ''} {getattr(exc, 'context', None) or ''}"
    return "nesting" in text.lower()


def _yaml_error(exc: yaml.YAMLError, text: str, limits: YamlLimits) -> DefinitionError:
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow; no mark, a position
        line = text.count("\n", 0, exc.position) + 1
        return _fatal(f"invalid YAML: unacceptable character #x{exc.character:04x}: {exc.reason}", "yaml_syntax", line)
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    if _is_nesting_limit(exc):
        return _too_deep(limits, line)
    if isinstance(exc, _IntegerTooLarge):
        return _fatal(str(exc.problem), "integer_too_large", line)
    if isinstance(exc, _NotFinite):
        return _fatal(str(exc.problem), "number_not_finite", line)
    message = str(exc)
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        message = exc.problem
        if exc.context:
            where = f" at line {exc.context_mark.line + 1}" if exc.context_mark is not None else ""
            message += f" ({exc.context}{where})"
    return _fatal(f"invalid YAML: {message}", "yaml_syntax", line)


def _decode(source: str | bytes, limits: YamlLimits) -> str:
    # A str longer than the cap in characters is too long in bytes too: no need to encode it.
    too_large = _fatal(f"definition is larger than {limits.max_bytes} bytes", "too_large", None)
    if len(source) > limits.max_bytes:
        raise too_large
    try:
        if isinstance(source, bytes):
            return source.decode("utf-8-sig")
        if len(source.encode("utf-8")) > limits.max_bytes:
            raise too_large
        return source
    except UnicodeError as exc:
        raise _fatal(f"definition is not UTF-8 text: {exc.reason}", "encoding", None) from exc


def _check_events(text: str, limits: YamlLimits) -> None:
    """Depth and alias count from the event stream, before any node is composed."""
    loader = _Loader(text)
    depth = aliases = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, MappingStartEvent | SequenceStartEvent):
                depth += 1
                if depth > limits.max_depth:
                    line = event.start_mark.line + 1
                    raise _fatal(f"definition nests deeper than {limits.max_depth} levels", "too_deep", line)
            elif isinstance(event, MappingEndEvent | SequenceEndEvent):
                depth -= 1
            elif isinstance(event, AliasEvent):
                aliases += 1
                if aliases > limits.max_aliases:
                    line = event.start_mark.line + 1
                    raise _fatal(f"definition uses more than {limits.max_aliases} aliases", "too_many_aliases", line)
    finally:
        loader.dispose()


def _check_graph(loader: Any, root: Node, limits: YamlLimits) -> list[Problem]:
    """Refuse recursive aliases, alias blow-ups and huge integers (with their path);
    report duplicate mapping keys.

    Sizes are memoised per node, so the cost is the number of distinct nodes (bounded by
    the byte cap), however large the expansion would be.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()
    duplicates: list[Problem] = []

    def size(node: Node, path: Path) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise _fatal("definition contains a recursive alias", "recursive_alias", node.start_mark.line + 1)
        active.add(key)
        total = 1
        if isinstance(node, ScalarNode) and node.tag == _INT_TAG:
            try:
                _bounded_int(loader, node)
            except _IntegerTooLarge as exc:
                raise _fatal(
                    str(exc.problem), "integer_too_large", node.start_mark.line + 1, format_path(path)
                ) from exc
        if isinstance(node, ScalarNode) and node.tag == _FLOAT_TAG:
            try:
                _finite_float(loader, node)
            except _NotFinite as exc:
                raise _fatal(
                    str(exc.problem), "number_not_finite", node.start_mark.line + 1, format_path(path)
                ) from exc
        if isinstance(node, SequenceNode):
            for index, child in enumerate(node.value):
                total += size(child, (*path, index))
        elif isinstance(node, MappingNode):
            seen: set[tuple[str, str]] = set()
            for key_node, value_node in node.value:
                name = key_node.value if isinstance(key_node, ScalarNode) else "?"
                if isinstance(key_node, ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                    if (key_node.tag, name) in seen:
                        duplicates.append(
                            Problem(
                                format_path((*path, name)),
                                key_node.start_mark.line + 1,
                                f"duplicate key '{name}'",
                                "duplicate_key",
                            )
                        )
                    seen.add((key_node.tag, name))
                total += size(key_node, path) + size(value_node, (*path, name))
        if total > limits.max_nodes:
            raise _fatal(
                f"definition expands to more than {limits.max_nodes} values (alias expansion)",
                "expansion_too_large",
                node.start_mark.line + 1,
            )
        active.discard(key)
        sizes[key] = total
        return total

    size(root, ())
    return duplicates


def _line_map(loader: Any, root: Node) -> SourceMap:
    """Walk the constructed node tree (merge keys already flattened) recording lines."""
    lines: dict[Path, int] = {(): root.start_mark.line + 1}

    def walk(node: Node, path: Path) -> None:
        if isinstance(node, SequenceNode):
            for index, child in enumerate(node.value):
                lines[(*path, index)] = child.start_mark.line + 1
                walk(child, (*path, index))
        elif isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                key = key_text(loader.construct_object(key_node)) if isinstance(key_node, ScalarNode) else "?"
                lines[(*path, key)] = key_node.start_mark.line + 1
                walk(value_node, (*path, key))

    walk(root, ())
    return SourceMap(lines)


def load_yaml(source: str | bytes, limits: YamlLimits | None = None) -> LoadedYaml:
    """Parse one YAML document within `limits` (default: from settings).

    Raises `DefinitionError` (one problem, with its line) for syntax errors, limits,
    disallowed tags and multi-document streams. An empty document loads as `None`.
    """
    limits = limits or YamlLimits.from_settings()
    text = _decode(source, limits)
    try:
        _check_events(text, limits)
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            if root is None:
                return LoadedYaml(None, SourceMap({(): 1}))
            duplicates = _check_graph(loader, root, limits)
            data = loader.construct_document(root)
            source_map = _line_map(loader, root)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text, limits) from exc
    except RecursionError as exc:  # a recursive layer (composer, graph walk) when max_depth is set high
        raise _too_deep(limits, None) from exc
    return LoadedYaml(data, source_map, duplicates)


__all__ = ["LoadedYaml", "YamlLimits", "format_path", "load_yaml"]
