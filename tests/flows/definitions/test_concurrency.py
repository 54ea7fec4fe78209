"""`concurrency: {limit, behavior}`: parsed in both formats, every mistake a problem with its line."""

import pytest

from flows.definitions import ir
from tests.flows.definitions.support import compile_yaml, found, problems_of


def test_tasks_flows_write_it_at_the_top_level_and_behavior_defaults_to_queue():
    flow = compile_yaml(
        """
        name: limited
        concurrency: {limit: 2}
        tasks:
          - {name: a, type: util.echo}
        """
    )
    assert flow.concurrency == ir.Concurrency(2, ir.ConcurrencyBehavior.QUEUE)


@pytest.mark.parametrize("written, behavior", [("CANCEL", "CANCEL"), ("fail", "FAIL"), ("Queue", "QUEUE")])
def test_every_behavior_is_read_whatever_its_case(written, behavior):
    flow = compile_yaml(
        f"""
        concurrency:
          limit: 1
          behavior: {written}
        tasks:
          - {{name: a, type: util.echo}}
        """
    )
    assert flow.concurrency == ir.Concurrency(1, ir.ConcurrencyBehavior(behavior))


def test_nodes_flows_write_it_in_metadata():
    flow = compile_yaml(
        """
        metadata:
          name: limited
          concurrency: {limit: 3, behavior: FAIL}
        nodes:
          start: {type: util.echo}
        """
    )
    assert flow.concurrency == ir.Concurrency(3, ir.ConcurrencyBehavior.FAIL)


def test_a_flow_without_it_has_no_limit():
    assert compile_yaml("tasks:\n  - {name: a, type: util.echo}\n").concurrency is None


@pytest.mark.parametrize(
    "written, expected",
    [
        ("{limit: 0}", [("concurrency.limit", 2, "invalid_value")]),
        ("{limit: -1}", [("concurrency.limit", 2, "invalid_value")]),
        ("{limit: 1.5}", [("concurrency.limit", 2, "invalid_value")]),
        ("{limit: '2'}", [("concurrency.limit", 2, "invalid_value")]),
        ("{limit: true}", [("concurrency.limit", 2, "invalid_value")]),
        ("{limit: 2, behavior: WAIT}", [("concurrency.behavior", 2, "invalid_value")]),
        ("{limit: 2, behavior: 3}", [("concurrency.behavior", 2, "invalid_value")]),
        ("{behavior: QUEUE}", [("concurrency", 2, "missing")]),
        ("{limit: 2, max: 3}", [("concurrency.max", 2, "unknown_key")]),
        ("2", [("concurrency", 2, "invalid_type")]),
    ],
)
def test_bad_limits_and_behaviors_are_problems_with_their_line(written, expected):
    problems = problems_of(f"name: x\nconcurrency: {written}\ntasks:\n  - {{name: a, type: util.echo}}\n")
    assert found(problems) == expected


def test_the_message_names_the_allowed_behaviors():
    (problem,) = problems_of("concurrency: {limit: 2, behavior: WAIT}\ntasks:\n  - {name: a, type: util.echo}\n")
    assert problem.message == "unknown concurrency behavior 'WAIT'; use one of QUEUE, CANCEL, FAIL"


def test_a_bad_limit_in_metadata_has_its_line():
    problems = problems_of(
        """
        metadata:
          name: x
          concurrency:
            limit: 0
        nodes:
          start: {type: util.echo}
        """
    )
    assert found(problems) == [("metadata.concurrency.limit", 4, "invalid_value")]
