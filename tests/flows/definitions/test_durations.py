"""Durations: seconds or ISO-8601, in the IR as seconds."""

import pytest

from flows.definitions import parse_duration
from tests.flows.definitions.support import compile_yaml, found, problems_of


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (30, 30),
        (1.5, 1.5),
        ("45", 45),
        ("PT30S", 30),
        ("PT1H", 3600),
        ("PT1M", 60),
        ("PT1H30M", 5400),
        ("P1DT2H", 93600),
        ("P2W", 1209600),
        ("pt0.5s", 0.5),
        ("PT1,5S", 1.5),
        (0, 0),
    ],
)
def test_parses_seconds_and_iso8601(value: object, seconds: float):
    parsed = parse_duration(value)
    assert parsed == seconds
    assert isinstance(parsed, int) == float(seconds).is_integer()


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("P1M", "years or months"),
        ("P1Y2D", "years or months"),
        ("P", "ISO-8601"),
        ("PT", "ISO-8601"),
        ("P1DT", "ISO-8601"),
        ("30 seconds", "ISO-8601"),
        ("nan", "ISO-8601"),
        (True, "number of seconds"),
        (None, "number of seconds"),
        ([30], "number of seconds"),
    ],
)
def test_refuses_what_is_not_a_fixed_duration(value: object, words: str):
    with pytest.raises(ValueError, match=words):
        parse_duration(value)


def test_durations_in_a_definition_become_seconds():
    flow = compile_yaml("""
        timeout: PT1H
        tasks:
          - name: a
            type: util.echo
            timeout: PT30S
            retry: {maxAttempts: 3, delay: PT2S, maxDelay: 10}
        """)
    step = flow.step("a")
    assert (flow.timeout, step.timeout, step.retry.delay, step.retry.max_delay) == (3600, 30, 2, 10)


def test_bad_durations_are_reported_where_they_are_written():
    problems = problems_of("""
        timeout: soon
        tasks:
          - name: a
            type: util.echo
            timeout: 0
            retry: {maxAttempts: 2, delay: -1, maxDelay: P1M}
        """)
    assert found(problems) == [
        ("timeout", 1, "invalid_duration"),
        ("tasks[0].timeout", 5, "invalid_duration"),
        ("tasks[0].retry.delay", 6, "invalid_duration"),
        ("tasks[0].retry.maxDelay", 6, "invalid_duration"),
    ]
    assert "more than zero" in problems[1].message
    assert "zero or more" in problems[2].message
