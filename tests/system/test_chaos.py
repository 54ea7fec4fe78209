"""Crash and restart: executions keep going and end while workers are killed with SIGKILL, the
server is killed and started again, Redis (broker and channel layer) restarts empty and
PostgreSQL restarts (every connection cut).

Real processes on PostgreSQL + Redis: a uvicorn server and two `manage.py worker` clusters.
Every execution must reach a terminal state in bounded time; every step's attempts must be
recorded; the sink that the HTTP steps call must never see a step run twice under one
attempt number (a repeat is allowed only as a new, recorded attempt: at-least-once).

The CI variant is short; `make chaos` sets CHAOS_EXECUTIONS, CHAOS_ROUNDS and CHAOS_PACE for
a longer one.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import requests
from django.db import connections
from django.db.models import Count

from accounts.roles import Role
from executions.models import (
    TERMINAL_EXECUTION_STATUSES,
    Execution,
    ExecutionEvent,
    ExecutionStatus,
    TaskRun,
    TaskStatus,
)
from tests.conftest import token_for
from tests.factories import AccountFactory, FlowFactory
from tests.system.conftest import Server, Workers, wait_until
from tests.system.faults import FakeProxy, StepSink, postgres_restart, redis_restart, redis_start

pytestmark = pytest.mark.services

EXECUTIONS = int(os.environ.get("CHAOS_EXECUTIONS", "200"))
ROUNDS = int(os.environ.get("CHAOS_ROUNDS", "1"))  # each: a worker killed, the server, Redis, PostgreSQL
PACE = float(os.environ.get("CHAOS_PACE", "12"))  # executions started per second
SETTLE_SECONDS = float(os.environ.get("CHAOS_SETTLE_SECONDS", "180"))
#: Short leases and re-dispatch delays, so lost steps come back within seconds.
FAST_RECOVERY = {"MILLRACE_LEASE_SECONDS": "3", "MILLRACE_REDISPATCH_SECONDS": "3"}

HTTP_FLOW = """
name: chaos-http
tasks:
  - name: first
    type: http.request
    properties:
      method: POST
      url: "{sink}"
      body: {{"execution": "{{{{ execution.id }}}}", "step": "first", "attempt": "{{{{ task.attempt }}}}"}}
  - name: second
    type: http.request
    properties:
      method: POST
      url: "{sink}"
      body: {{"execution": "{{{{ execution.id }}}}", "step": "second", "attempt": "{{{{ task.attempt }}}}"}}
  - name: done
    type: util.echo
    properties: {{value: "{{{{ outputs.first.body.ok and outputs.second.body.ok }}}}"}}
"""

CALLBACK_FLOW = """
name: chaos-callback
tasks:
  - name: remote
    type: connector.call
    properties:
      baseUrl: "{proxy}"
      command: slow/Job
      parameters: {{"execution": "{{{{ execution.id }}}}"}}
  - name: after
    type: util.echo
    properties: {{value: "{{{{ outputs.remote.echo.execution }}}}"}}
"""


@pytest.fixture
def redis_back_up() -> Iterator[None]:
    """Whatever happens in the test, Redis runs again afterwards."""
    try:
        yield
    finally:
        redis_start()


def restart_postgres() -> None:
    """Restart PostgreSQL; this process reconnects (its own connections were cut too)."""
    postgres_restart()
    connections.close_all()


@pytest.fixture
def sink() -> Iterator[StepSink]:
    server = StepSink(delay=0.1)
    yield server
    server.close()


@pytest.fixture
def proxy() -> Iterator[FakeProxy]:
    server = FakeProxy()
    yield server
    server.close()


class Starter(threading.Thread):
    """Starts executions over the FlowRunner API at a steady pace, through server restarts.

    A refused connection sent nothing, so it is tried again; a request cut after it was sent
    may or may not have started an execution and is counted as `uncertain`, as is a 5xx while
    `outage` is set (the database restarting: the answer cannot say whether the start committed).
    """

    def __init__(self, server: Server, flow_id: str, token: str, count: int, pace: float) -> None:
        super().__init__(daemon=True)
        self.url = f"{server.url}/api/v1/flows/{flow_id}/run"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.count, self.pace = count, pace
        self.started: list[str] = []
        self.uncertain = 0
        self.errors: list[str] = []
        self.outage = threading.Event()

    def run(self) -> None:
        session = requests.Session()
        began = time.monotonic()
        for n in range(self.count):
            time.sleep(max(0.0, began + n / self.pace - time.monotonic()))
            self._start_one(session)

    def _start_one(self, session: requests.Session) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                response = session.post(self.url, json={"input": {}}, headers=self.headers, timeout=30)
            except requests.ConnectionError as error:
                if "Connection refused" in str(error):
                    time.sleep(0.1)
                    continue
                self.uncertain += 1
                return
            if response.status_code == 201:
                self.started.append(response.json()["execution_id"])
            elif response.status_code >= 500 and self.outage.is_set():
                self.uncertain += 1
            else:
                self.errors.append(f"{response.status_code}: {response.text[:200]}")
            return
        self.errors.append("the server stayed unreachable for 60 s")


def _chaos_round(
    workers: Workers, server: Server, victim: subprocess.Popen, in_flight: Callable[[], int], outage: threading.Event
) -> tuple[subprocess.Popen, dict]:
    """One round of faults, spaced so that work is in flight at each; returns the new worker and
    how many executions were unfinished when each fault hit."""
    hit: dict[str, int] = {}
    time.sleep(1.0)
    wait_until(lambda: _holds_a_step(victim), 30, "the worker to run a step")
    hit["worker killed"] = in_flight()
    workers.kill9(victim)
    replacement = workers.start(**FAST_RECOVERY)
    time.sleep(1.5)
    hit["server killed"] = in_flight()
    server.kill9()
    time.sleep(0.5)
    server.start()
    time.sleep(1.5)
    hit["redis restarted"] = in_flight()
    redis_restart(outage=1.0)
    time.sleep(1.5)
    hit["postgres restarted"] = in_flight()
    outage.set()
    try:
        restart_postgres()
        time.sleep(2.0)  # answers to requests that were in flight during the restart
    finally:
        outage.clear()
    return replacement, hit


def _holds_a_step(worker: subprocess.Popen) -> bool:
    """True while a process of this worker's group holds the lease of a running step."""
    for owner in TaskRun.objects.filter(status=TaskStatus.RUNNING).values_list("lease_owner", flat=True):
        try:
            if os.getpgid(int(owner.rsplit(":", 1)[1])) == worker.pid:
                return True
        except (ValueError, IndexError, ProcessLookupError):
            continue
    return False


def _assert_attempts_recorded(execution_ids: list[str], sink: StepSink) -> None:
    """Every step's attempts are accounted for: one, plus one per recorded requeue. The sink saw
    each HTTP step at least once, never twice under one attempt number, and never more often
    than its recorded attempts."""
    requeues = {(str(execution), task): count for execution, task, count in _requeue_events(execution_ids)}
    calls = sink.counts()
    assert not sink.repeated_attempts(), f"steps run twice under one attempt: {sink.repeated_attempts()[:5]}"
    for run in TaskRun.objects.filter(execution_id__in=execution_ids):
        key = (str(run.execution_id), run.name)
        assert run.status == TaskStatus.SUCCESS, f"{key}: {run.status} {run.error}"
        assert run.attempt == 1 + requeues.get(key, 0), f"{key}: attempt {run.attempt}, requeues {requeues.get(key)}"
        if run.plugin_type == "http.request":
            assert 1 <= calls[key] <= run.attempt, f"{key}: {calls[key]} calls for {run.attempt} attempts"


def _requeue_events(execution_ids: list[str]) -> list[tuple[str, str, int]]:
    """(execution, step, number of "lost its worker" or retry events) of each step that has any."""
    counted: dict[tuple[str, str], int] = {}
    events = ExecutionEvent.objects.filter(execution_id__in=execution_ids, task_run__isnull=False).filter(
        message__regex=r"lost its worker|retrying in"
    )
    for execution_id, name in events.values_list("execution_id", "task_run__name"):
        counted[(str(execution_id), name)] = counted.get((str(execution_id), name), 0) + 1
    return [(execution, task, count) for (execution, task), count in counted.items()]


def _wait_terminal(execution_ids: list[str], timeout: float) -> None:
    def all_ended() -> bool:
        return (
            not Execution.objects.filter(pk__in=execution_ids).exclude(status__in=TERMINAL_EXECUTION_STATUSES).exists()
        )

    try:
        wait_until(all_ended, timeout, "every execution to end")
    except AssertionError:
        stuck = Execution.objects.filter(pk__in=execution_ids).exclude(status__in=TERMINAL_EXECUTION_STATUSES)
        detail = [(str(e.pk), e.status, list(e.task_runs.values_list("name", "status", "attempt"))) for e in stuck[:10]]
        raise AssertionError(f"{stuck.count()} executions did not end: {detail}") from None


def test_http_steps_survive_worker_kills_server_redis_and_postgres_restarts(
    live_server_process, workers, sink, namespace, redis_back_up
):
    account = AccountFactory(role=Role.ADMIN, default_namespace=namespace)
    flow = FlowFactory(namespace=namespace, created_by=account, source=HTTP_FLOW.format(sink=sink.url))
    victim = workers.start(**FAST_RECOVERY)
    workers.start(**FAST_RECOVERY)
    starter = Starter(live_server_process, str(flow.pk), token_for(account), EXECUTIONS, PACE)
    starter.start()

    def in_flight() -> int:
        return Execution.objects.filter(flow=flow).exclude(status__in=TERMINAL_EXECUTION_STATUSES).count()

    hits = []
    began = time.monotonic()
    for _ in range(ROUNDS):
        victim, hit = _chaos_round(workers, live_server_process, victim, in_flight, starter.outage)
        hits.append(hit)
    faults_over = time.monotonic()
    starter.join(timeout=EXECUTIONS / PACE + 120)
    assert not starter.is_alive(), "starting the executions did not finish"
    assert not starter.errors, starter.errors[:5]

    execution_ids = [str(pk) for pk in Execution.objects.filter(flow=flow).values_list("pk", flat=True)]
    assert set(starter.started) <= set(execution_ids)
    assert len(starter.started) <= len(execution_ids) <= len(starter.started) + starter.uncertain
    assert len(starter.started) >= EXECUTIONS - starter.uncertain
    _wait_terminal(execution_ids, SETTLE_SECONDS)
    drained = time.monotonic()

    statuses = dict(
        Execution.objects.filter(pk__in=execution_ids).values_list("status").annotate(n=Count("id")).order_by()
    )
    assert statuses == {ExecutionStatus.SUCCESS: len(execution_ids)}, statuses
    _assert_attempts_recorded(execution_ids, sink)
    assert all(count > 0 for hit in hits for count in hit.values()), f"a fault hit an idle system: {hits}"
    assert sum(count for _, _, count in _requeue_events(execution_ids)) >= ROUNDS  # each kill cost a step
    print(
        f"\nchaos: {len(execution_ids)} executions, faults hit while unfinished: {hits}, "
        f"sink calls {len(sink.calls)} for {len(sink.counts())} steps, "
        f"requeues recorded {sum(count for _, _, count in _requeue_events(execution_ids))}, "
        f"all ended {drained - began:.0f} s after the faults began, {drained - faults_over:.0f} s after they ended"
    )


def test_callback_wait_survives_worker_kills_server_redis_and_postgres_restarts(
    live_server_process, workers, proxy, namespace, redis_back_up
):
    account = AccountFactory(role=Role.ADMIN, default_namespace=namespace)
    flow = FlowFactory(namespace=namespace, created_by=account, source=CALLBACK_FLOW.format(proxy=proxy.url))
    victim = workers.start(**FAST_RECOVERY)
    survivor = workers.start(**FAST_RECOVERY)
    count = max(EXECUTIONS // 10, 10)
    starter = Starter(live_server_process, str(flow.pk), token_for(account), count, PACE)
    starter.run()
    assert not starter.errors and len(starter.started) == count, starter.errors[:5]
    wait_until(lambda: proxy.accepted() == count, 60, "the proxy to accept every command")
    wait_until(
        lambda: TaskRun.objects.filter(execution__flow=flow, name="remote", status=TaskStatus.WAITING).count() == count,
        60,
        "every step to wait for its callback",
    )

    workers.kill9(victim)  # no worker holds a waiting step: nothing is lost with it
    workers.start(**FAST_RECOVERY)
    live_server_process.kill9()
    releasing = threading.Thread(target=proxy.release, args=(time.monotonic() + 60,), daemon=True)
    releasing.start()  # the first PUTs find the server down and are tried again
    time.sleep(1.0)
    live_server_process.start()
    wait_until(lambda: len(proxy.delivered) >= count // 2, 60, "half of the callbacks")
    workers.kill9(survivor)  # while resumed steps are queued and running
    workers.start(**FAST_RECOVERY)
    redis_restart(outage=0.5)  # queued resumptions lose their messages
    restart_postgres()  # callbacks still arriving meet a server whose database went away
    releasing.join(90)
    assert all(status == 204 or 200 <= status < 300 for _, status in proxy.delivered), proxy.delivered
    assert len(proxy.delivered) == count

    _wait_terminal(starter.started, SETTLE_SECONDS)
    for execution in Execution.objects.filter(pk__in=starter.started):
        assert execution.status == ExecutionStatus.SUCCESS, (execution.pk, execution.error)
        remote = execution.task_runs.get(name="remote")
        assert remote.attempt == 1  # resumed by its callback, never run again
        assert remote.events.filter(type="task_status", message__contains="called back").count() == 1
        assert execution.task_runs.get(name="after").outputs == str(execution.pk)
