"""A worker killed with SIGKILL mid-step: the reaper re-queues the step and the run still ends."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from accounts.roles import Role
from executions.models import Execution, ExecutionEvent, ExecutionStatus, TaskStatus
from executions.services import execution_start
from tests.factories import AccountFactory, FlowFactory
from tests.system.conftest import wait_until

pytestmark = pytest.mark.services


class Sink:
    """A local HTTP server counting calls; the first call hangs until released."""

    def __init__(self) -> None:
        self.calls = 0
        self.first_call = threading.Event()
        self.release = threading.Event()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                sink.calls += 1
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if sink.calls == 1:
                    sink.first_call.set()
                    sink.release.wait(30)
                body = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()


@pytest.fixture
def sink():
    server = Sink()
    yield server
    server.close()


def test_killed_worker_step_is_requeued_and_the_execution_finishes(workers, sink, namespace):
    account = AccountFactory(role=Role.ADMIN, default_namespace=namespace)
    flow = FlowFactory(
        namespace=namespace,
        created_by=account,
        source=f"""
name: crash
tasks:
  - name: before
    type: util.echo
    properties: {{value: 1}}
  - name: call
    type: http.request
    properties:
      method: POST
      url: "{sink.url}"
      body: {{"n": 1}}
  - name: after
    type: util.echo
    properties: {{value: "{{{{ outputs.call.body.ok }}}}"}}
""",
    )
    first = workers.start(MILLRACE_LEASE_SECONDS="2")
    execution = execution_start(actor=account, flow=flow)
    assert sink.first_call.wait(30), "the worker never reached the HTTP step"
    workers.kill9(first)
    sink.release.set()  # the dead worker's request is answered into the void
    workers.start(MILLRACE_LEASE_SECONDS="2")
    wait_until(lambda: Execution.objects.get(pk=execution.pk).is_terminal, 60, "the execution to end")

    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCESS, execution.error
    call = execution.task_runs.get(name="call")
    assert call.status == TaskStatus.SUCCESS and call.attempt == 2
    assert sink.calls == 2  # once by the dead worker, once after the lease expired: at-least-once, recorded
    assert ExecutionEvent.objects.filter(task_run=call, message__contains="lost its worker").count() == 1
    assert execution.task_runs.get(name="after").outputs in ("true", True)
    assert not execution.task_runs.exclude(status=TaskStatus.SUCCESS).exists()
