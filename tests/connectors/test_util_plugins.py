"""util.log, util.echo, util.sleep, util.hash and fibo."""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from connectors.registry import InputError, ResultStatus, WaitKind, all_plugins, get_plugin

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


def test_fibo_is_runnable_but_not_public() -> None:
    assert get_plugin("fibo").public is False
    assert "fibo" not in {plugin.id for plugin in all_plugins()}
    assert "fibo" in {plugin.id for plugin in all_plugins(hidden=True)}


HELLO_DIGESTS = {
    "MD5": "8b1a9953c4611296a827abf8c47804d7",
    "SHA1": "f7ff9e8b7bb2e09b70935a5d785e0cc5d9d0abf0",
    "SHA256": "185f8db32271fe25f561a6fc938b2e264306ec304eda518007d1764826381969",
    "SHA512": hashlib.sha512(b"Hello").hexdigest(),
}


@pytest.mark.parametrize("algorithm", sorted(HELLO_DIGESTS))
def test_hash_of_a_value(run_plugin: RunPlugin, algorithm: str) -> None:
    result = run_plugin("util.hash", {"value": "Hello", "algorithm": algorithm})
    assert result.outputs == {"hash": HELLO_DIGESTS[algorithm], "algorithm": algorithm, "size": 5}


def test_hash_defaults_to_sha256_hex_and_writes_base64(run_plugin: RunPlugin) -> None:
    assert run_plugin("util.hash", {"value": "Hello"}).outputs["hash"] == HELLO_DIGESTS["SHA256"]
    result = run_plugin("util.hash", {"value": "é", "algorithm": "sha1", "encoding": "BASE64"})
    assert result.outputs == {
        "hash": base64.b64encode(hashlib.sha1("é".encode()).digest()).decode(),
        "algorithm": "SHA1",
        "size": 2,
    }


def test_hash_of_a_file_is_streamed(run_plugin: RunPlugin, ctx: FakeContext) -> None:
    content = bytes(range(256)) * 10_000  # 2.5 MiB: three chunks
    uri = ctx.file_write("blob.bin", content)
    result = run_plugin("util.hash", {"from": uri, "algorithm": "SHA512"})
    assert result.outputs == {"hash": hashlib.sha512(content).hexdigest(), "algorithm": "SHA512", "size": len(content)}
    empty = run_plugin("util.hash", {"from": ctx.file_write("empty", b"")})
    assert empty.outputs == {"hash": hashlib.sha256(b"").hexdigest(), "algorithm": "SHA256", "size": 0}


def test_hash_of_a_missing_or_foreign_file_fails(run_plugin: RunPlugin) -> None:
    theirs = FakeContext(namespace="elsewhere", write_prefix=f"elsewhere/executions/{uuid.uuid4()}/tasks/t")
    uri = theirs.file_write("x", b"theirs")
    for target in (uri, "millrace:///production/executions/none/x"):
        result = run_plugin("util.hash", {"from": target})
        assert (result.status, result.error_code) == (ResultStatus.FAILED, "FILE_NOT_FOUND")
        assert result.error == f"There is no file {target} in this namespace."
    forged = run_plugin("util.hash", {"from": "millrace:///production/../elsewhere/x"})
    assert forged.error_code == "INVALID_INPUT"


def test_hash_of_a_file_stops_when_cancelled(run_plugin: RunPlugin, ctx: FakeContext) -> None:
    uri = ctx.file_write("blob.bin", b"x" * 10)
    ctx.cancelled = True
    result = run_plugin("util.hash", {"from": uri})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "STOPPED")


@pytest.mark.parametrize(
    "inputs",
    [
        pytest.param({}, id="nothing"),
        pytest.param({"value": "a", "from": "millrace:///production/x"}, id="both"),
        pytest.param({"value": 5}, id="number"),
        pytest.param({"value": "a", "algorithm": "CRC32"}, id="unknown-algorithm"),
        pytest.param({"value": "a", "algorithm": "Sha256"}, id="mixed-case"),
        pytest.param({"value": "a", "encoding": "BASE32"}, id="encoding"),
        pytest.param({"from": "/etc/passwd"}, id="path-not-uri"),
    ],
)
def test_hash_refuses_wrong_inputs(inputs: dict) -> None:
    with pytest.raises(InputError):
        get_plugin("util.hash").check_inputs(inputs)


def test_hash_refuses_secrets() -> None:
    assert get_plugin("util.hash").takes_secrets is False
