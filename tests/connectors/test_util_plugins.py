"""util.log, util.echo, util.sleep and fibo."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from connectors.registry import InputError, ResultStatus, WaitKind, get_plugin

from .conftest import FakeContext, RunPlugin


@pytest.mark.parametrize(
    ("level", "logged"), [("info", "info"), ("warn", "warn"), ("ERROR", "error"), ("TRACE", "debug")]
)
def test_log_writes_at_the_level(run_plugin: RunPlugin, ctx: FakeContext, level: str, logged: str) -> None:
    result = run_plugin("util.log", {"message": "Hello world", "level": level})
    assert result.outputs == {"message": "Hello world"}
    assert ctx.logs == [(logged, "Hello world", {})]


def test_log_defaults_to_info_and_writes_other_values_as_json(run_plugin: RunPlugin, ctx: FakeContext) -> None:
    result = run_plugin("util.log", {"message": {"count": 3}})
    assert result.outputs == {"message": '{"count": 3}'}
    assert ctx.logs == [("info", '{"count": 3}', {})]


def test_log_refuses_an_unknown_level() -> None:
    with pytest.raises(InputError) as caught:
        get_plugin("util.log").check_inputs({"message": "x", "level": "loud"})
    assert caught.value.problems[0]["path"] == "level"


def test_echo_outputs_its_value_or_its_inputs(run_plugin: RunPlugin) -> None:
    assert run_plugin("util.echo", {"value": [1, {"a": None}]}).outputs == [1, {"a": None}]
    assert run_plugin("util.echo", {"a": 1, "b": "two"}).outputs == {"a": 1, "b": "two"}


@pytest.mark.parametrize(
    ("inputs", "seconds"), [({"seconds": 5}, 5), ({"seconds": "PT1M30S"}, 90), ({"duration": "PT0.5S"}, 0.5)]
)
def test_sleep_waits_on_a_timer_and_never_in_the_worker(run_plugin: RunPlugin, inputs: dict, seconds: float) -> None:
    before = timezone.now()
    result = run_plugin("util.sleep", inputs)
    assert result.status == ResultStatus.WAITING
    assert result.wait.kind == WaitKind.TIMER
    assert before + timedelta(seconds=seconds) <= result.wait.until <= timezone.now() + timedelta(seconds=seconds)
    assert (timezone.now() - before) < timedelta(seconds=0.5)


def test_sleep_resumes_with_what_it_slept(ctx: FakeContext) -> None:
    result = get_plugin("util.sleep")().resume({"seconds": "PT5S"}, ctx, None)
    assert (result.status, result.outputs) == (ResultStatus.SUCCESS, {"slept": 5.0})


def test_sleep_of_zero_is_done_at_once(run_plugin: RunPlugin) -> None:
    result = run_plugin("util.sleep", {"seconds": 0})
    assert (result.status, result.outputs) == (ResultStatus.SUCCESS, {"slept": 0})


@pytest.mark.parametrize("value", ["soon", "-PT5S", "P1M"])
def test_sleep_fails_on_a_bad_duration(run_plugin: RunPlugin, value: str) -> None:
    result = run_plugin("util.sleep", {"seconds": value})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "INVALID_INPUT")


def test_sleep_needs_seconds_or_duration() -> None:
    with pytest.raises(InputError):
        get_plugin("util.sleep").check_inputs({})
    with pytest.raises(InputError):
        get_plugin("util.sleep").check_inputs({"seconds": -1})


@pytest.mark.parametrize("recursive", [False, True])
def test_fibo(run_plugin: RunPlugin, recursive: bool) -> None:
    expected = [0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55]
    for n, value in enumerate(expected):
        assert run_plugin("fibo", {"n": n, "recursive": recursive}).outputs == {"n": n, "value": value}
    assert run_plugin("fibo", {"n": 25, "recursive": recursive}).outputs["value"] == 75025


def test_fibo_limits_n_and_the_recursive_n_more() -> None:
    fibo = get_plugin("fibo")
    fibo.check_inputs({"n": 1000})
    with pytest.raises(InputError) as caught:
        fibo.check_inputs({"n": 1000, "recursive": True})
    assert caught.value.problems[0]["path"] == "n"
    with pytest.raises(InputError):
        fibo.check_inputs({"n": -1})
