"""The console's plugin reference: every public plugin by category, its documentation, schemas and example.

The documentation is Markdown written by plugin authors, shown to every console account. It is
rendered by a small renderer that escapes all text first and only then adds a fixed set of tags
(paragraphs, headings, lists, code, bold, http(s) links): raw HTML in a plugin's text is shown
as text, never run. No Markdown library is a dependency of Millrace; this subset is what the
catalog's texts use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from connectors.registry import Plugin, all_plugins

_FENCE = re.compile(r"^\s*```")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_BULLET = re.compile(r"^\s*[-*]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+(.*)$")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^\s()<>\"']+)\)")


def _inline(text: str) -> str:
    """One line or paragraph: `code` spans kept verbatim, the rest with bold and http(s) links."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unmatched backtick is text
        parts = [*parts[:-2], parts[-2] + "`" + parts[-1]]
    html = []
    for index, part in enumerate(parts):
        if index % 2:
            html.append(f"<code>{escape(part)}</code>")
            continue
        piece = _BOLD.sub(r"<strong>\1</strong>", str(escape(part)))
        html.append(_LINK.sub(r'<a href="\2" rel="noopener noreferrer">\1</a>', piece))
    return "".join(html)


def _blocks(lines: list[str]) -> Iterator[str]:
    """HTML blocks of the Markdown lines."""
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            index += 1
        elif _FENCE.match(line):
            end = next((i for i in range(index + 1, len(lines)) if _FENCE.match(lines[i])), len(lines))
            yield f"<pre><code>{escape(chr(10).join(lines[index + 1 : end]))}</code></pre>"
            index = end + 1
        elif heading := _HEADING.match(line):
            level = min(len(heading.group(1)) + 3, 6)  # the page has its own h1-h3
            yield f"<h{level}>{_inline(heading.group(2))}</h{level}>"
            index += 1
        elif _BULLET.match(line) or _NUMBERED.match(line):
            pattern, tag = (_BULLET, "ul") if _BULLET.match(line) else (_NUMBERED, "ol")
            items: list[list[str]] = []
            while index < len(lines) and lines[index].strip():
                start = pattern.match(lines[index])
                if start:
                    items.append([start.group(1)])
                elif items and lines[index].startswith((" ", "\t")):
                    items[-1].append(lines[index].strip())
                else:
                    break
                index += 1
            yield f"<{tag}>" + "".join(f"<li>{_inline(' '.join(item))}</li>" for item in items) + f"</{tag}>"
        else:
            paragraph = []
            while index < len(lines) and lines[index].strip() and not _starts_block(lines[index]):
                paragraph.append(lines[index].strip())
                index += 1
            yield f"<p>{_inline(' '.join(paragraph))}</p>"


def _starts_block(line: str) -> bool:
    return bool(_FENCE.match(line) or _HEADING.match(line) or _BULLET.match(line) or _NUMBERED.match(line))


def render_inline(text: str) -> SafeString:
    """Safe HTML of one line of Markdown (a schema's description): code, bold and links."""
    return mark_safe(_inline(text))  # built from escaped text only


def render_markdown(text: str) -> SafeString:
    """Safe HTML of a plugin's Markdown: every character of `text` is escaped before tags are added."""
    return mark_safe("\n".join(_blocks(text.splitlines())))  # built from escaped text only


@dataclass(frozen=True)
class SchemaRow:
    """One property of a schema, as the reference's tables show it."""

    name: str
    type: str
    description: SafeString
    required: bool
    default: str


def _names(kind: Any) -> list[str]:
    return [str(name) for name in kind] if isinstance(kind, list) else [str(kind)] if kind else []


def _type_text(spec: Any) -> str:
    if not isinstance(spec, dict):
        return "any"
    if "enum" in spec:
        return "one of " + ", ".join(value if isinstance(value, str) else json.dumps(value) for value in spec["enum"])
    if "const" in spec:
        return json.dumps(spec["const"])
    kinds = _names(spec.get("type"))
    items = spec.get("items")
    if "array" in kinds and isinstance(items, dict) and items.get("type"):
        array = "array of " + " or ".join(_names(items["type"]))
        kinds = [array if kind == "array" else kind for kind in kinds]
    if not kinds and isinstance(spec.get("anyOf") or spec.get("oneOf"), list):
        kinds = [_type_text(option) for option in spec.get("anyOf") or spec.get("oneOf")]
    return " or ".join(kinds) if kinds else "any"


def schema_rows(schema: dict[str, Any]) -> list[SchemaRow]:
    """The top-level properties of an object schema, in their declared order."""
    required = set(schema.get("required", []))
    properties = schema.get("properties", {})
    return [
        SchemaRow(
            name=name,
            type=_type_text(spec),
            description=render_inline(str(spec.get("description", "")) if isinstance(spec, dict) else ""),
            required=name in required,
            default=json.dumps(spec["default"]) if isinstance(spec, dict) and "default" in spec else "",
        )
        for name, spec in properties.items()
    ]


def requirement_notes(schema: dict[str, Any]) -> list[str]:
    """Requirements a table's `required` column cannot show: one of several properties."""
    notes = []
    for key, words in (("oneOf", "exactly one of"), ("anyOf", "at least one of")):
        options = schema.get(key)
        if isinstance(options, list) and all(isinstance(o, dict) and o.get("required") for o in options):
            notes.append(f"Give {words}: " + ", ".join(" + ".join(o["required"]) for o in options) + ".")
    return notes


@dataclass(frozen=True)
class PluginEntry:
    id: str
    name: str
    category: str
    description: str
    documentation: SafeString
    example: str
    aliases: tuple[str, ...]
    inputs: list[SchemaRow]
    input_notes: list[str]
    outputs: list[SchemaRow]
    output_description: SafeString

    @property
    def anchor(self) -> str:
        return "plugin-" + re.sub(r"[^A-Za-z0-9_-]", "-", self.id)


@dataclass
class Category:
    name: str
    plugins: list[PluginEntry] = field(default_factory=list)


def plugin_entry(plugin: type[Plugin]) -> PluginEntry:
    output = plugin.output_schema
    return PluginEntry(
        id=plugin.id,
        name=plugin.name,
        category=plugin.category,
        description=plugin.description,
        documentation=render_markdown(plugin.documentation),
        example=plugin.example.strip("\n"),
        aliases=tuple(plugin.aliases),
        inputs=schema_rows(plugin.input_schema),
        input_notes=requirement_notes(plugin.input_schema),
        outputs=schema_rows(output),
        output_description=render_inline(str(output.get("description", ""))),
    )


def plugin_catalog() -> list[Category]:
    """The public plugins (the catalog of /api/v1/plugins), grouped by category in name order."""
    categories: dict[str, Category] = {}
    for plugin in all_plugins():
        categories.setdefault(plugin.category, Category(plugin.category)).plugins.append(plugin_entry(plugin))
    return [categories[name] for name in sorted(categories)]
