"""The dashboard's charts as server-rendered SVG: no script library, nothing to load from
elsewhere, nothing the Content-Security-Policy has to allow.

Colours are CSS classes (`millrace/dashboard.css` sets them for the light and the dark
scheme); every bar segment carries a `<title>` with its figures, and each chart a title and
a description read out in place of the picture. Texts sit in groups without boxes, read
against the panel behind the chart. Flow and namespace names are XML-escaped.
"""

import math
from datetime import timedelta
from xml.sax.saxutils import escape, quoteattr

from django.utils.safestring import SafeString, mark_safe

from console.selectors import FlowDurations, Timeline
from core.timefmt import seconds_text
from executions.models import ExecutionStatus as S

#: Bottom to top: the ended runs first, then the ones still going.
STACK_ORDER = (
    S.SUCCESS,
    S.WARNING,
    S.FAILED,
    S.TIMED_OUT,
    S.CANCELLED,
    S.QUEUED,
    S.RUNNING,
    S.WAITING,
    S.PAUSED,
)
WIDTH = 760
TIMELINE_HEIGHT = 240
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 30
ROW, LABEL_W, VALUE_W = 30, 230, 170
NAME_CHARS = 30


def status_class(status: str) -> str:
    return f"mr-c-{status.lower()}"


def nice_ticks(largest: int) -> list[int]:
    """0 up to a round number at least `largest`, in steps of 1, 2 or 5 times a power of ten."""
    if largest <= 0:
        return [0, 1]
    rough = largest / 4
    power = 10 ** math.floor(math.log10(rough)) if rough >= 1 else 1
    step = next(power * m for m in (1, 2, 5, 10) if power * m >= rough)
    return list(range(0, step * math.ceil(largest / step) + 1, step))


def _bucket_label(timeline: Timeline, index: int) -> str:
    start = timeline.buckets[index].start
    if timeline.window.step >= timedelta(days=1):
        return start.strftime("%a %d %b")
    return start.strftime("%H:00")


def _bucket_span(timeline: Timeline, index: int) -> str:
    start = timeline.buckets[index].start
    end = start + timeline.window.step
    if timeline.window.step >= timedelta(days=1):
        return start.strftime("%a %d %b %Y") + " (UTC)"
    return f"{start:%d %b %H:00} to {end:%H:00} UTC"


def timeline_svg(timeline: Timeline, *, chart_id: str = "executions-chart") -> SafeString:
    """Stacked bars: one per bucket, a segment per status, a y axis of round counts."""
    buckets = timeline.buckets
    ticks = nice_ticks(max((bucket.total for bucket in buckets), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, TIMELINE_HEIGHT - TOP - BOTTOM
    slot = plot_w / len(buckets)
    bar = slot * 0.72
    scale = plot_h / ticks[-1]
    base = TOP + plot_h
    parts = []
    axis = ['<g class="mr-axis" aria-hidden="true">']
    for tick in ticks:
        y = base - tick * scale
        axis.append(f'<line class="mr-grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        axis.append(f'<text class="mr-tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>')
    every = 1 if len(buckets) <= 8 else 3
    for index in range(0, len(buckets), every):
        x = LEFT + slot * index + slot / 2
        label = escape(_bucket_label(timeline, index))
        axis.append(f'<text class="mr-tick" x="{x:.1f}" y="{base + 18}" text-anchor="middle">{label}</text>')
    axis.append("</g>")
    for index, bucket in enumerate(buckets):
        x = LEFT + slot * index + (slot - bar) / 2
        span = _bucket_span(timeline, index)
        parts.append(
            f'<g class="mr-bucket" data-start={quoteattr(bucket.start.isoformat())} data-total="{bucket.total}">'
        )
        y = base
        for status in STACK_ORDER:
            count = bucket.counts.get(status, 0)
            if not count:
                continue
            height = count * scale
            y -= height
            parts.append(
                f'<rect class="mr-seg {status_class(status)}" data-status="{status}" data-count="{count}" '
                f'x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}">'
                f"<title>{escape(span)}: {count} {status.replace('_', ' ')}</title></rect>"
            )
        parts.append("</g>")
    totals = timeline.status_totals()
    summary = ", ".join(f"{totals[s]} {s.replace('_', ' ')}" for s in STACK_ORDER if totals[s]) or "none"
    unit = "day" if timeline.window.step >= timedelta(days=1) else "hour"
    title = f"Executions per {unit}, {timeline.window.label}, by status"
    desc = f"{timeline.total} executions: {summary}."
    return mark_safe(  # every text above is escaped
        f'<svg xmlns="http://www.w3.org/2000/svg" class="mr-chart mr-timeline" id="{chart_id}" '
        f'viewBox="0 0 {WIDTH} {TIMELINE_HEIGHT}" preserveAspectRatio="xMinYMin meet" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">'
        f'<title id="{chart_id}-title">{escape(title)}</title><desc id="{chart_id}-desc">{escape(desc)}</desc>'
        f"{''.join(axis)}{''.join(parts)}</svg>"
    )


def _short(text: str) -> str:
    return text if len(text) <= NAME_CHARS else text[: NAME_CHARS - 1] + "…"


def durations_svg(flows: list[FlowDurations], *, chart_id: str = "durations-chart") -> SafeString:
    """A row per flow: its 95th percentile as a light bar, its median as a dark one over it."""
    height = TOP + ROW * len(flows) + 6
    longest = max((flow.p95 or 0.0 for flow in flows), default=0.0) or 1.0
    plot_w = WIDTH - LABEL_W - VALUE_W
    rows = []
    for index, flow in enumerate(flows):
        y = TOP + ROW * index
        name = f"{flow.namespace} / {flow.flow_name}"
        row = [
            f'<g class="mr-flow-row" data-flow={quoteattr(flow.flow_name)} data-namespace={quoteattr(flow.namespace)}>'
        ]
        row.append(
            f'<g class="mr-labels"><text class="mr-flow-name" x="{LABEL_W - 8}" y="{y + 17}" text-anchor="end">'
            f"<title>{escape(name)}: {flow.runs} runs</title>{escape(_short(name))}</text></g>"
        )
        if flow.p50 is not None and flow.p95 is not None:
            p95_w, p50_w = max(flow.p95 / longest * plot_w, 1.0), max(flow.p50 / longest * plot_w, 1.0)
            p50, p95 = seconds_text(flow.p50), seconds_text(flow.p95)
            row.append(
                f'<g class="mr-bars">'
                f'<rect class="mr-p95" x="{LABEL_W}" y="{y + 5}" width="{p95_w:.1f}" height="18">'
                f"<title>{escape(name)}: 95% of {flow.finished} finished runs took at most {p95}</title></rect>"
                f'<rect class="mr-p50" x="{LABEL_W}" y="{y + 9}" width="{p50_w:.1f}" height="10">'
                f"<title>{escape(name)}: half of {flow.finished} finished runs took at most {p50}</title></rect></g>"
            )
            value = f"p50 {p50} · p95 {p95}"
        else:
            value = "no finished run"
        x = WIDTH - VALUE_W + 8
        row.append(f'<g class="mr-labels"><text class="mr-value" x="{x}" y="{y + 17}">{escape(value)}</text></g>')
        row.append("</g>")
        rows.append("".join(row))
    described = "; ".join(
        f"{flow.namespace}/{flow.flow_name}: "
        + (f"p50 {seconds_text(flow.p50)}, p95 {seconds_text(flow.p95)}" if flow.p50 is not None else "no finished run")
        for flow in flows
    )
    return mark_safe(  # every text above is escaped
        f'<svg xmlns="http://www.w3.org/2000/svg" class="mr-chart mr-durations" id="{chart_id}" '
        f'viewBox="0 0 {WIDTH} {height}" preserveAspectRatio="xMinYMin meet" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">'
        f'<title id="{chart_id}-title">Run durations per flow: median (p50) and 95th percentile (p95)</title>'
        f'<desc id="{chart_id}-desc">{escape(described)}</desc>{"".join(rows)}</svg>'
    )
