"""Retries with back-off, timer waits, step and flow timeouts — time driven by `sweep(now=...)`."""

from datetime import timedelta

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer

from executions.engine.sweeper import sweep
from executions.models import ExecutionEvent, ExecutionStatus, TaskStatus
from tests.executions.engine.support import later, names_and_statuses, run_named

pytestmark = pytest.mark.usefixtures("eager")
E, T = ExecutionStatus, TaskStatus

RETRYING_PARSE = """
name: flaky-parse
tasks:
  - name: parse
    type: data.json.parse
    retry: {maxAttempts: 3, delay: 2, backoff: 2}
    properties: {text: "not json"}
  - name: after
    type: util.echo
    properties: {value: never}
"""


def between(value, start, end, seconds: float) -> bool:
    return start + timedelta(seconds=seconds) <= value <= end + timedelta(seconds=seconds)


def test_a_failing_step_retries_with_exponential_back_off_then_fails(run_flow):
    before = timezone.now()
    execution = run_flow(RETRYING_PARSE)
    after = timezone.now()
    parse = run_named(execution, "parse")
    assert (execution.status, parse.status, parse.attempt) == (E.WAITING, T.RETRYING, 1)
    assert between(parse.wake_at, before, after, 2)  # delay before attempt 2
    assert (parse.lease_owner, parse.lease_until) == ("", None)  # the worker is free

    assert sweep(now=timezone.now())["woken"] == 0  # the back-off has not ended
    parse.refresh_from_db()
    assert (parse.status, parse.attempt) == (T.RETRYING, 1)

    before = timezone.now()
    assert sweep(now=later(3))["woken"] == 1
    after = timezone.now()
    parse.refresh_from_db()
    assert (parse.status, parse.attempt) == (T.RETRYING, 2)
    assert between(parse.wake_at, before, after, 4)  # delay * backoff before attempt 3

    assert sweep(now=later(3))["woken"] == 0  # 3 s is before the 4 s back-off ends
    assert sweep(now=later(5))["woken"] == 1
    parse.refresh_from_db()
    execution.refresh_from_db()
    assert (parse.status, parse.attempt) == (T.FAILED, 3)
    assert execution.status == E.FAILED
    assert "parse" in execution.error and "Invalid JSON" in execution.error
    assert [name for name, _ in names_and_statuses(execution)] == ["parse"]  # `after` never started
    retries = ExecutionEvent.objects.filter(task_run=parse, data__status=T.RETRYING).order_by("id")
    assert [event.level for event in retries] == ["warn", "warn"]
    assert ["retrying in 2s" in retries[0].message, "retrying in 4s" in retries[1].message] == [True, True]


def test_an_http_step_succeeds_on_its_third_attempt(run_flow, settings, httpserver: HTTPServer):
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    httpserver.expect_oneshot_request("/flaky").respond_with_data("down", status=500)
    httpserver.expect_oneshot_request("/flaky").respond_with_data("still down", status=500)
    httpserver.expect_request("/flaky").respond_with_json({"ok": True})
    execution = run_flow(f"""
name: flaky-http
tasks:
  - name: call
    type: http.request
    retry: {{maxAttempts: 3, delay: 2, backoff: 2}}
    properties:
      url: "{httpserver.url_for("/flaky")}"
  - name: use
    type: util.echo
    properties: {{value: "{{{{ outputs.call.body.ok }}}}"}}
""")
    call = run_named(execution, "call")
    assert (call.status, call.attempt) == (T.RETRYING, 1)
    assert "500" in call.error
    sweep(now=later(3))
    call.refresh_from_db()
    assert (call.status, call.attempt) == (T.RETRYING, 2)
    sweep(now=later(5))
    call.refresh_from_db()
    execution.refresh_from_db()
    assert execution.status == E.SUCCESS, execution.error
    assert (call.status, call.attempt, call.error) == (T.SUCCESS, 3, "")
    assert call.outputs["status_code"] == 200
    assert run_named(execution, "use").outputs is True
    assert len(httpserver.log) == 3


def test_sleep_waits_on_a_timer_without_a_worker_and_resumes_on_sweep(run_flow):
    execution = run_flow("""
name: napper
tasks:
  - name: nap
    type: util.sleep
    properties: {seconds: 30}
  - name: after
    type: util.echo
    properties: {value: awake}
""")
    nap = run_named(execution, "nap")
    assert execution.status == E.WAITING
    assert nap.status == T.WAITING and nap.wake_at is not None
    assert (nap.lease_owner, nap.lease_until) == ("", None)
    assert not execution.task_runs.filter(status=T.RUNNING).exists()
    assert sweep(now=later(10))["woken"] == 0
    nap.refresh_from_db()
    assert nap.status == T.WAITING

    assert sweep(now=later(31))["woken"] == 1
    execution.refresh_from_db()
    nap.refresh_from_db()
    assert execution.status == E.SUCCESS, execution.error
    assert (nap.status, nap.outputs, nap.attempt, nap.wake_at) == (T.SUCCESS, {"slept": 30}, 1, None)
    assert run_named(execution, "after").outputs == "awake"


def test_a_step_timeout_ends_the_step_timed_out(run_flow):
    execution = run_flow("""
name: slowpoke
tasks:
  - name: nap
    type: util.sleep
    timeout: PT5S
    properties: {seconds: 60}
  - name: after
    type: util.echo
    properties: {value: never}
""")
    nap = run_named(execution, "nap")
    assert nap.deadline is not None
    assert sweep(now=later(3))["stepsTimedOut"] == 0
    assert sweep(now=later(10))["stepsTimedOut"] == 1
    nap.refresh_from_db()
    execution.refresh_from_db()
    assert nap.status == T.TIMED_OUT and "timed out" in nap.error
    assert execution.status == E.FAILED
    assert "nap" in execution.error and "timed out" in execution.error
    assert sweep(now=later(120)) == {
        "woken": 0,
        "requeued": 0,
        "redispatched": 0,
        "stepsTimedOut": 0,
        "executionsTimedOut": 0,
        "callbacks": 0,
        "slotsHandedOn": 0,
        "purged": 0,
    }
    assert names_and_statuses(execution) == [("nap", T.TIMED_OUT)]


def test_a_flow_timeout_ends_the_execution_and_its_waiting_steps(run_flow):
    before = timezone.now()
    execution = run_flow("""
name: bounded
timeout: 10
tasks:
  - name: nap
    type: util.sleep
    properties: {seconds: 60}
  - name: after
    type: util.echo
    properties: {value: never}
""")
    assert execution.status == E.WAITING
    assert execution.timeout_seconds == 10 and execution.timeout_policy == "TIME_OUT_WF"
    assert between(execution.deadline, before, timezone.now(), 10)
    assert sweep(now=later(5))["executionsTimedOut"] == 0
    assert sweep(now=later(20))["executionsTimedOut"] == 1
    execution.refresh_from_db()
    assert execution.status == E.TIMED_OUT
    assert "timed out" in execution.error and execution.finished_at is not None
    assert names_and_statuses(execution) == [("nap", T.TIMED_OUT)]
    assert sweep(now=later(120))["woken"] == 0  # the timer of the ended step does not fire
    assert names_and_statuses(execution) == [("nap", T.TIMED_OUT)]


def test_a_flow_timeout_also_ends_a_retrying_step(run_flow):
    execution = run_flow(RETRYING_PARSE.replace("name: flaky-parse", "name: bounded-retry\ntimeout: 1"))
    assert run_named(execution, "parse").status == T.RETRYING
    # the execution deadline (1 s) passes before the back-off (2 s) ends
    assert sweep(now=later(1.5))["executionsTimedOut"] == 1
    execution.refresh_from_db()
    assert execution.status == E.TIMED_OUT
    assert names_and_statuses(execution) == [("parse", T.TIMED_OUT)]
    assert sweep(now=later(60))["woken"] == 0


def test_alert_only_timeout_writes_a_warning_and_the_run_goes_on(run_flow):
    execution = run_flow("""
name: alerting
timeout: 10
timeoutPolicy: ALERT_ONLY
tasks:
  - name: nap
    type: util.sleep
    properties: {seconds: 60}
""")
    assert execution.timeout_policy == "ALERT_ONLY"
    assert sweep(now=later(20))["executionsTimedOut"] == 1
    execution.refresh_from_db()
    assert execution.status == E.WAITING and execution.deadline is None
    [warning] = ExecutionEvent.objects.filter(execution=execution, level="warn")
    assert "timeout" in warning.message and "alert only" in warning.message
    assert run_named(execution, "nap").status == T.WAITING
    assert sweep(now=later(30))["executionsTimedOut"] == 0  # warned once
    sweep(now=later(61))
    execution.refresh_from_db()
    assert execution.status == E.SUCCESS, execution.error
    assert ExecutionEvent.objects.filter(execution=execution, level="warn").count() == 1
