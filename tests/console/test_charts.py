"""The dashboard's SVG: round y axes, segments stacked without gaps, names escaped, and texts
kept apart from the boxes (the readability check reads a text against the box of its group)."""

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from xml.etree import ElementTree

import pytest

from console.charts import durations_svg, nice_ticks, timeline_svg
from console.selectors import WINDOWS, Bucket, FlowDurations, Timeline
from core.timefmt import seconds_text
from executions.models import ExecutionStatus as S

SVG = "{http://www.w3.org/2000/svg}"
START = datetime(2026, 12, 7, 0, tzinfo=UTC)


def timeline(*counts: dict[str, int]) -> Timeline:
    window = WINDOWS["24h"]
    buckets = [
        Bucket(
            START + timedelta(hours=index),
            {status: (counts[index] if index < len(counts) else {}).get(status, 0) for status in S.values},
        )
        for index in range(window.buckets)
    ]
    return Timeline(window, buckets)


@pytest.mark.parametrize(
    ("largest", "ticks"),
    [
        (0, [0, 1]),
        (1, [0, 1]),
        (3, [0, 1, 2, 3]),
        (7, [0, 2, 4, 6, 8]),
        (13, [0, 5, 10, 15]),
        (230, [0, 100, 200, 300]),
    ],
)
def test_the_y_axis_is_round(largest, ticks) -> None:
    assert nice_ticks(largest) == ticks


def test_segments_stack_in_order_from_the_axis_up() -> None:
    svg = ElementTree.fromstring(str(timeline_svg(timeline({S.SUCCESS: 3, S.FAILED: 1, S.RUNNING: 2}))))

    first = svg.find(f"{SVG}g[@class='mr-bucket']")
    segments = first.findall(f"{SVG}rect")
    assert [rect.get("data-status") for rect in segments] == [S.SUCCESS, S.FAILED, S.RUNNING]
    for lower, upper in pairwise(segments):
        assert float(upper.get("y")) + float(upper.get("height")) == pytest.approx(float(lower.get("y")), abs=0.11)
    heights = [float(rect.get("height")) for rect in segments]
    assert heights[0] == pytest.approx(3 * heights[1], rel=0.02)
    assert len(svg.findall(f"{SVG}g[@class='mr-bucket']")) == 24
    assert svg.get("role") == "img"
    assert svg.find(f"{SVG}desc").text == "6 executions: 3 SUCCESS, 1 FAILED, 2 RUNNING."


def test_no_text_shares_a_group_with_a_box() -> None:
    flows = [FlowDurations("prod", "nightly", runs=3, finished=3, p50=1.5, p95=4.0)]
    for chart in (timeline_svg(timeline({S.SUCCESS: 1})), durations_svg(flows)):
        svg = ElementTree.fromstring(str(chart))
        for group in svg.iter(f"{SVG}g"):
            direct = {child.tag for child in group}
            assert not ({f"{SVG}text", f"{SVG}rect"} <= direct), group.get("class")


def test_names_are_escaped_and_missing_durations_said() -> None:
    flows = [
        FlowDurations("prod", "<script>alert(1)</script>", runs=2, finished=2, p50=0.5, p95=90.0),
        FlowDurations("prod", "queued-only", runs=1, finished=0, p50=None, p95=None),
    ]
    markup = str(durations_svg(flows))
    assert "<script>" not in markup and "&lt;script&gt;" in markup
    svg = ElementTree.fromstring(markup)
    values = [text.text for text in svg.iter(f"{SVG}text") if text.get("class") == "mr-value"]
    assert values == ["p50 0.500 s · p95 1 min 30 s", "no finished run"]


def test_durations_read_for_people() -> None:
    assert [seconds_text(value) for value in (0.042, 3.44, 125, 3725)] == ["0.042 s", "3.4 s", "2 min 5 s", "1 h 2 min"]
