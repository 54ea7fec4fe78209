"""A server-rendered SVG of a workflow's agents and the links between them (source → receiver).

Agents are laid out in columns by how far they sit downstream of an agent that receives from
none (a cycle stops growing after as many rounds as there are agents); each column is sorted
by name. A link into the same or an earlier column is drawn as a curve below the boxes. A
FlowAgent's box has a second link under it, to the flow it starts. Every text is XML-escaped:
names and types are user input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

BOX_W, BOX_H = 210, 58
GAP_X, GAP_Y, PAD = 90, 28, 20
CHARS = 28

STYLE = """
.ag-node rect { fill: #f4f8fb; stroke: #417690; stroke-width: 1.5; }
.ag-node.ag-disabled rect { fill: #f2f2f2; stroke: #999; stroke-dasharray: 5 3; }
.ag-node.ag-failing rect { stroke: #c62828; stroke-width: 2.5; }
.ag-node text { fill: #222; font-size: 13px; text-anchor: middle; }
.ag-node .ag-type, .ag-node .ag-count { fill: #555; font-size: 11px; }
.ag-edge { fill: none; stroke: #417690; stroke-width: 1.5; }
.ag-back { stroke-dasharray: 6 4; }
.ag-flow { fill: #417690; font-size: 11px; text-anchor: middle; text-decoration: underline; }
"""


@dataclass(frozen=True)
class Box:
    """An agent's place in the picture (its top-left corner)."""

    agent: Any
    x: float
    y: float


def _short(text: str) -> str:
    return text if len(text) <= CHARS else text[: CHARS - 1] + "…"


def columns(agent_ids: list[Any], links: Iterable[tuple[Any, Any]]) -> dict[Any, int]:
    """The column of each agent: 0 for those no link reaches, else one past their furthest source."""
    column = dict.fromkeys(agent_ids, 0)
    pairs = [(source, receiver) for source, receiver in links if source in column and receiver in column]
    for _ in range(len(agent_ids)):
        moved = False
        for source, receiver in pairs:
            if column[receiver] < column[source] + 1 < len(agent_ids):
                column[receiver] = column[source] + 1
                moved = True
        if not moved:
            break
    return column


def layout(agents: list[Any], links: list[tuple[Any, Any]]) -> tuple[list[Box], float, float]:
    """Boxes for `agents` (objects with `pk` and `name`), and the picture's width and height."""
    column = columns([agent.pk for agent in agents], links)
    by_column: dict[int, list[Any]] = {}
    for agent in sorted(agents, key=lambda agent: (agent.name.lower(), str(agent.pk))):
        by_column.setdefault(column[agent.pk], []).append(agent)
    boxes = [
        Box(agent, PAD + index * (BOX_W + GAP_X), PAD + row * (BOX_H + GAP_Y))
        for index, number in enumerate(sorted(by_column))
        for row, agent in enumerate(by_column[number])
    ]
    rows = max((len(members) for members in by_column.values()), default=0)
    width = 2 * PAD + len(by_column) * BOX_W + max(len(by_column) - 1, 0) * GAP_X
    height = 2 * PAD + rows * BOX_H + max(rows - 1, 0) * GAP_Y + (GAP_Y if links else 0)
    return boxes, max(width, BOX_W + 2 * PAD), max(height, BOX_H + 2 * PAD)


def _edge(source: Box, receiver: Box, bottom: float) -> str:
    if receiver.x > source.x:  # forward: from the right side to the left side
        x1, y1 = source.x + BOX_W, source.y + BOX_H / 2
        x2, y2 = receiver.x - 4, receiver.y + BOX_H / 2
        middle = (x1 + x2) / 2
        path = f"M {x1:.0f} {y1:.0f} C {middle:.0f} {y1:.0f}, {middle:.0f} {y2:.0f}, {x2:.0f} {y2:.0f}"
        return f'<path class="ag-edge" d="{path}" marker-end="url(#ag-arrow)"/>'
    x1, y1 = source.x + BOX_W / 2 + 12, source.y + BOX_H  # back or sideways: under the boxes
    x2, y2 = receiver.x + BOX_W / 2 - 12, receiver.y + BOX_H + 4
    path = f"M {x1:.0f} {y1:.0f} C {x1:.0f} {bottom:.0f}, {x2:.0f} {bottom:.0f}, {x2:.0f} {y2:.0f}"
    return f'<path class="ag-edge ag-back" d="{path}" marker-end="url(#ag-arrow)"/>'


def _flow_link(box: Box, flow: tuple[str, str]) -> list[str]:
    """The link under a FlowAgent's box to the flow it starts: (flow name, its page)."""
    name, href = flow
    return [
        f'<a href={quoteattr(href)} class="ag-flow-link">',
        f'<text class="ag-flow" x="{box.x + BOX_W / 2:.0f}" y="{box.y + BOX_H + 14:.0f}">'
        f"starts flow {escape(_short(name))}</text>",
        "</a>",
    ]


def _node(box: Box, href: str) -> list[str]:
    agent, centre = box.agent, box.x + BOX_W / 2
    classes = "ag-node" + (" ag-disabled" if agent.disabled else "") + (" ag-failing" if agent.last_error else "")
    count = getattr(agent, "live_messages_count", None)  # agents.selectors.with_counts
    details = (
        "disabled" if agent.disabled else f"{count} message{'' if count == 1 else 's'}" if count is not None else ""
    )
    title = f"{agent.name} — {agent.type}" + (f"\nlast error: {agent.last_error}" if agent.last_error else "")
    return [
        f"<a href={quoteattr(href)}>",
        f'<g class="{classes}" data-agent={quoteattr(str(agent.pk))}>',
        f"<title>{escape(title)}</title>",
        f'<rect x="{box.x:.0f}" y="{box.y:.0f}" width="{BOX_W}" height="{BOX_H}" rx="7"/>',
        f'<text x="{centre:.0f}" y="{box.y + 20:.0f}">{escape(_short(agent.name))}</text>',
        f'<text class="ag-type" x="{centre:.0f}" y="{box.y + 36:.0f}">{escape(_short(agent.type))}</text>',
        f'<text class="ag-count" x="{centre:.0f}" y="{box.y + 51:.0f}">{escape(details)}</text>',
        "</g></a>",
    ]


def agent_svg(
    agents: list[Any],
    links: list[tuple[Any, Any]],
    href: Callable[[Any], str],
    flows: dict[Any, tuple[str, str]] | None = None,
) -> str:
    """The picture as SVG markup; `href(agent)` is the link of each box, `flows` the (name, page)
    of the flow a FlowAgent starts, by agent id."""
    boxes, width, height = layout(agents, links)
    where = {box.agent.pk: box for box in boxes}
    bottom = height - PAD / 2
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="agent-graph-svg" width="{width:.0f}" height="{height:.0f}"'
        f' viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="Agents of the workflow and their links">',
        f"<style>{STYLE}</style>",
        '<defs><marker id="ag-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8"'
        ' orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#417690"/></marker></defs>',
    ]
    drawn = [(where[source], where[receiver]) for source, receiver in links if source in where and receiver in where]
    out += [_edge(source, receiver, bottom) for source, receiver in drawn]
    for box in boxes:
        out += _node(box, href(box.agent))
        if flows and box.agent.pk in flows:
            out += _flow_link(box, flows[box.agent.pk])
    out.append("</svg>")
    return "\n".join(out)
