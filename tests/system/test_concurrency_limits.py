"""Concurrency limits under contention: two worker processes (two workers each) on PostgreSQL +
Redis, 20 starts at once of a flow with `limit: 2`. Its one step calls a local HTTP server that
counts the requests in flight; the database is sampled too. Never more than 2 run at once, and
all 20 end SUCCESS."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from accounts.roles import Role
from executions.engine.concurrency import LIVE
from executions.models import Execution, ExecutionStatus
from executions.services import execution_start
from tests.factories import AccountFactory, FlowFactory
from tests.system.conftest import wait_until

pytestmark = pytest.mark.services
STARTS = 20
LIMIT = 2


class Counter:
    """A local HTTP server that holds each request a moment and records the most at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = self.most = self.calls = 0
        counter = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with counter.lock:
                    counter.active += 1
                    counter.calls += 1
                    counter.most = max(counter.most, counter.active)
                time.sleep(0.2)
                with counter.lock:
                    counter.active -= 1
                body = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/slot"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def counter():
    server = Counter()
    yield server
    server.close()


def test_twenty_starts_at_once_never_run_more_than_the_limit(workers, counter, namespace):
    account = AccountFactory(role=Role.ADMIN, default_namespace=namespace)
    flow = FlowFactory(
        namespace=namespace,
        created_by=account,
        source=f"""
name: limited
concurrency:
  limit: {LIMIT}
  behavior: QUEUE
tasks:
  - name: call
    type: http.request
    properties:
      method: POST
      url: "{counter.url}"
      body: {{"n": 1}}
""",
    )
    workers.start()
    workers.start()
    executions = [execution_start(actor=account, flow=flow) for _ in range(STARTS)]
    ids = [execution.pk for execution in executions]
    most_live = 0

    def all_ended() -> bool:
        nonlocal most_live
        most_live = max(most_live, Execution.objects.filter(LIVE, flow=flow).count())
        unended = (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING, ExecutionStatus.WAITING)
        return not Execution.objects.filter(pk__in=ids, status__in=unended).exists()

    wait_until(all_ended, 120, "every execution to end")

    ended = dict(Execution.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert sorted(ended.values()) == [ExecutionStatus.SUCCESS] * STARTS, ended
    assert counter.calls == STARTS
    assert counter.most <= LIMIT and most_live <= LIMIT, (counter.most, most_live)
    assert counter.most == LIMIT  # the limit was used, not undercut
    # first in, first out: an execution starts only once fewer than LIMIT older ones still wait
    started = list(Execution.objects.filter(pk__in=ids).order_by("started_at").values_list("pk", flat=True))
    assert all(created - started.index(pk) < LIMIT for created, pk in enumerate(ids)), started
