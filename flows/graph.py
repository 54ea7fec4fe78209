"""A server-rendered SVG picture of a compiled flow, for the console's flow page.

Both formats compile to the same IR (`flows.definitions.ir`), so one layout serves both:
- a `tasks` list is a column of boxes joined by arrows; a control step is a frame around its
  child blocks (`flow.if` branches and `flow.switch` cases side by side with their labels,
  `flow.parallel` tasks side by side, `flow.forEach`/`flow.sequential` as a column);
- a `nodes` graph is laid out in layers from its entry node (breadth first), with an arrow per
  `next` route labelled by its outcome; `error` routes are dashed, routes back up are drawn
  as curves on the right, and routes within a layer sideways.
The `errors` block (run when the flow fails) is drawn as a column of its own.

Every text is XML-escaped: names and types come from user YAML.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from flows.definitions.ir import (
    BLOCK_TYPES,
    CONTROL_TYPES,
    ERROR,
    FOR_EACH,
    IF,
    PARALLEL,
    SWITCH,
    Block,
    CompiledFlow,
    Step,
)

BOX_W, BOX_H = 190, 46
GAP_Y, GAP_X = 30, 26
NODE_GAP_X = 70  # between graph nodes of a layer: room for a sideways route and its label
PAD, HEADER = 12, 30
LABEL_H = 18
CHARS = 26  # longest text line in a box before it is shortened
CAPTION_CHAR_W = 7.5  # width of a caption character at 12px, bold, generously

Draw = Callable[[float, float], list[str]]


@dataclass
class Shape:
    """A laid-out piece: its size, and how to draw it with its top-left corner at (x, y)."""

    width: float
    height: float
    draw: Draw


def _short(text: str, limit: int = CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _kind(step: Step) -> str:
    if step.type in CONTROL_TYPES:
        return "control"
    return "task"


def _box(step: Step) -> Shape:
    """A plugin step (or a control step without children): name over type."""

    def draw(x: float, y: float) -> list[str]:
        where = f"{step.path} (line {step.line})" if step.line else step.path
        return [
            f'<g class="mr-node mr-{_kind(step)}" data-step={quoteattr(step.id)}>',
            f"<title>{escape(step.id)}: {escape(step.type)} — {escape(where)}</title>",
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{BOX_W}" height="{BOX_H}" rx="6"/>',
            f'<text class="mr-name" x="{x + BOX_W / 2:.0f}" y="{y + 19:.0f}">{escape(_short(step.name))}</text>',
            f'<text class="mr-type" x="{x + BOX_W / 2:.0f}" y="{y + 36:.0f}">{escape(_short(step.type))}</text>',
            "</g>",
        ]

    return Shape(BOX_W, BOX_H, draw)


def _arrow(x1: float, y1: float, x2: float, y2: float, css: str = "mr-edge") -> str:
    return f'<line class="{css}" x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" marker-end="url(#mr-arrow)"/>'


def _label(x: float, y: float, text: str, css: str = "mr-label") -> str:
    return f'<text class="{css}" x="{x:.0f}" y="{y:.0f}">{escape(_short(text, 20))}</text>'


def _column(shapes: list[Shape]) -> Shape:
    """Shapes one under another, centred, joined by arrows."""
    if not shapes:
        return _empty()
    width = max(shape.width for shape in shapes)
    height = sum(shape.height for shape in shapes) + GAP_Y * (len(shapes) - 1)

    def draw(x: float, y: float) -> list[str]:
        out: list[str] = []
        top = y
        for index, shape in enumerate(shapes):
            out += shape.draw(x + (width - shape.width) / 2, top)
            if index + 1 < len(shapes):
                centre = x + width / 2
                out.append(_arrow(centre, top + shape.height, centre, top + shape.height + GAP_Y - 2))
            top += shape.height + GAP_Y
        return out

    return Shape(width, height, draw)


def _row(shapes: list[Shape], labels: list[str] | None = None) -> Shape:
    """Shapes side by side, each under its label (branches, cases, parallel lanes)."""
    labels = labels or [""] * len(shapes)
    label_h = LABEL_H if any(labels) else 0
    width = sum(shape.width for shape in shapes) + GAP_X * (len(shapes) - 1)
    height = label_h + max(shape.height for shape in shapes)

    def draw(x: float, y: float) -> list[str]:
        out: list[str] = []
        left = x
        for shape, label in zip(shapes, labels, strict=True):
            if label:
                out.append(_label(left + shape.width / 2, y + 12, label, "mr-label mr-branch"))
            out += shape.draw(left, y + label_h)
            left += shape.width + GAP_X
        return out

    return Shape(width, height, draw)


def _empty() -> Shape:
    def draw(x: float, y: float) -> list[str]:
        return [_label(x + BOX_W / 2, y + 16, "(no steps)", "mr-label mr-quiet")]

    return Shape(BOX_W, 24, draw)


def _block(block: Block) -> Shape:
    return _column([_step(step) for step in block.steps])


def _children(step: Step) -> Shape:
    if step.type == IF:
        roles = [role for role in ("then", "else") if role in step.blocks]
        return _row([_block(step.blocks[role]) for role in roles], roles)
    if step.type == SWITCH:
        labels = [f"case {case}" for case in step.cases] + (["default"] if "default" in step.blocks else [])
        blocks = [*step.cases.values(), *([step.blocks["default"]] if "default" in step.blocks else [])]
        return _row([_block(block) for block in blocks], labels)
    if step.type == PARALLEL:
        lanes = step.blocks.get("tasks")
        return _row([_step(child) for child in lanes.steps]) if lanes and lanes.steps else _empty()
    return _column([_block(block) for block in step.blocks.values()])


def _step(step: Step) -> Shape:
    if step.type not in BLOCK_TYPES or not step.child_blocks():
        return _box(step)
    inner = _children(step)
    caption = _short(f"{step.name} · {step.type}" + (" (each item)" if step.type == FOR_EACH else ""), 40)
    width = max(inner.width, BOX_W, CAPTION_CHAR_W * len(caption)) + 2 * PAD
    height = HEADER + inner.height + PAD

    def draw(x: float, y: float) -> list[str]:
        where = f"{step.path} (line {step.line})" if step.line else step.path
        return [
            f'<g class="mr-frame" data-step={quoteattr(step.id)}>',
            f"<title>{escape(step.id)}: {escape(step.type)} — {escape(where)}</title>",
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{width:.0f}" height="{height:.0f}" rx="8"/>',
            f'<text class="mr-caption" x="{x + PAD:.0f}" y="{y + 20:.0f}">{escape(caption)}</text>',
            "</g>",
            *inner.draw(x + (width - inner.width) / 2, y + HEADER),
        ]

    return Shape(width, height, draw)


def _layers(flow: CompiledFlow) -> list[list[Step]]:
    """Graph nodes by distance from the entry; nodes it never reaches come last, in source order."""
    entry = flow.entry()
    depth: dict[str, int] = {}
    if entry is not None:
        depth[entry.id] = 0
        queue = [entry]
        while queue:
            step = queue.pop(0)
            for target in step.next.values():
                if target not in depth and flow.get_step(target) is not None:
                    depth[target] = depth[step.id] + 1
                    queue.append(flow.step(target))
    last = max(depth.values(), default=-1)
    for step in flow.main.steps:
        if step.id not in depth:
            last += 1
            depth[step.id] = last
    layers: list[list[Step]] = [[] for _ in range(last + 1)]
    for step in flow.main.steps:
        layers[depth[step.id]].append(step)
    return layers


def _graph(flow: CompiledFlow) -> Shape:
    """A `nodes` flow: layered nodes and their `next` routes."""
    layers = _layers(flow)
    shapes = {step.id: _step(step) for layer in layers for step in layer}
    rows = [max(shapes[step.id].height for step in layer) for layer in layers]
    widths = [sum(shapes[s.id].width for s in layer) + NODE_GAP_X * (len(layer) - 1) for layer in layers]
    width = max(widths, default=BOX_W) + 60  # room on the right for routes going back up
    gap = GAP_Y + LABEL_H
    height = sum(rows) + gap * max(len(rows) - 1, 0)

    def draw(x: float, y: float) -> list[str]:
        where: dict[str, tuple[float, float, Shape]] = {}
        top = y
        for layer, row_h, row_w in zip(layers, rows, widths, strict=True):
            left = x + (width - 60 - row_w) / 2
            for step in layer:
                shape = shapes[step.id]
                where[step.id] = (left, top, shape)
                left += shape.width + NODE_GAP_X
            top += row_h + gap
        nodes: list[str] = []
        edges: list[str] = []
        for step_id, (sx, sy, shape) in where.items():
            nodes += shape.draw(sx, sy)
            step = flow.step(step_id)
            for outcome, target in step.next.items():
                if target not in where:
                    continue
                css = "mr-edge mr-error-edge" if outcome == ERROR else "mr-edge"
                tx, ty, target_shape = where[target]
                x1, y1 = sx + shape.width / 2, sy + shape.height
                x2, y2 = tx + target_shape.width / 2, ty
                if ty > sy:
                    edges.append(_arrow(x1, y1, x2, y2 - 2, css))
                    edges.append(_label((x1 + x2) / 2 + 4, (y1 + y2) / 2 + 4, outcome))
                elif ty == sy and tx != sx:  # sideways, within a layer
                    mid = sy + shape.height / 2
                    start, end = (sx + shape.width, tx) if tx > sx else (sx, tx + target_shape.width)
                    edges.append(_arrow(start, mid, end + (-2 if tx > sx else 2), mid, css))
                    edges.append(_label((start + end) / 2, mid - 5, outcome))
                else:  # back up to an earlier layer (or to itself): around the right-hand side
                    bend = x + width - 10
                    x1, y1 = sx + shape.width, sy + shape.height / 2
                    x2, y2 = tx + target_shape.width, ty + target_shape.height / 2
                    edges.append(
                        f'<path class="{css}" d="M{x1:.0f},{y1:.0f} C{bend:.0f},{y1:.0f} '
                        f'{bend:.0f},{y2:.0f} {x2 + 2:.0f},{y2:.0f}" marker-end="url(#mr-arrow)"/>'
                    )
                    edges.append(_label(bend - 14, (y1 + y2) / 2, outcome))
        return edges + nodes

    return Shape(width, height, draw)


def flow_svg(flow: CompiledFlow) -> str:
    """The whole picture as an `<svg>` element, ready to embed in a page."""
    main = _graph(flow) if flow.is_graph else _block(flow.main)
    parts = [main]
    labels = ["flow" if flow.errors.steps else ""]
    if flow.errors.steps:
        parts.append(_block(flow.errors))
        labels.append("on failure")
    picture = _row(parts, labels)
    margin = 10
    width, height = picture.width + 2 * margin, picture.height + 2 * margin
    defs = (
        '<defs><marker id="mr-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="mr-arrowhead"/></marker></defs>'
    )
    body = "".join(picture.draw(margin, margin))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="mr-flow-graph" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label={quoteattr(f"Graph of flow {flow.name}")}>'
        f"{defs}{body}</svg>"
    )
