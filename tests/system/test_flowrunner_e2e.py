"""FlowRunner end to end: a real uvicorn server and real workers on PostgreSQL + Redis.

Log in over HTTP, create a flow whose first node calls a local HTTP server, run it, watch
the whole WebSocket sequence, read the logs, log out, and see the token refused.
"""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from django.conf import global_settings
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from accounts.roles import Role
from tests.factories import PASSWORD, AccountFactory

pytestmark = pytest.mark.services


class Upstream:
    """A local JSON API the flow's first node calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                upstream.calls.append(self.path)
                body = json.dumps({"key": "value"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/data"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.server.shutdown()


def ws_messages(url: str) -> tuple[list[dict], int | None]:
    messages = []
    with connect(url, open_timeout=10, close_timeout=5) as socket_:
        try:
            while True:
                messages.append(json.loads(socket_.recv(timeout=30)))
        except ConnectionClosed as closed:
            return messages, closed.rcvd.code if closed.rcvd else None


def test_login_create_run_watch_logs_logout(workers, server, upstream, namespace, settings):
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS  # the server checks with the real hashers
    AccountFactory(username="e2e", role=Role.EDITOR, default_namespace=namespace)
    workers.start()
    login = requests.post(f"{server}/api/v1/auth/login", json={"username": "e2e", "password": PASSWORD}, timeout=10)
    assert login.status_code == 200, login.text
    token = login.json()["token"]
    auth = {"Authorization": f"Bearer {token}"}

    definition = f"""metadata:
  name: "E2E Flow"
  description: "Calls a local API"
  version: "1.0.0"
nodes:
  start:
    type: http.request
    params:
      url: "{upstream.url}"
      method: GET
    next:
      default: end
  end:
    type: util.echo
    params:
      value:
        output: "{{{{ outputs.start.body.key }}}}"
"""
    created = requests.post(
        f"{server}/api/v1/flows", json={"definition": definition, "tags": ["e2e"]}, headers=auth, timeout=10
    )
    assert created.status_code == 201, created.text
    flow_id = created.json()["id"]
    assert created.json()["version"] == "1.0.0"

    run = requests.post(
        f"{server}/api/v1/flows/{flow_id}/run", json={"input": {"key": "value"}}, headers=auth, timeout=10
    )
    assert run.status_code == 201, run.text
    execution_id = run.json()["execution_id"]
    assert run.json()["status"] == "running"

    ws_base = server.replace("http://", "ws://")
    messages, code = ws_messages(f"{ws_base}/ws/executions/{execution_id}?token={token}")
    kinds = [message["type"] for message in messages]
    assert kinds[-1] == "execution_completed", messages
    assert code == 1000
    assert messages[-1]["result"] == {"output": "value"} and messages[-1]["execution_id"] == execution_id
    nodes = [message for message in messages if message["type"] == "node_completed"]
    assert [node["node_id"] for node in nodes] == ["start", "end"]
    assert nodes[0]["node_type"] == "http.request" and nodes[0]["result"]["status_code"] == 200
    assert nodes[0]["result"]["body"] == {"key": "value"}
    assert any(m["type"] == "log" and m["message"] == "HTTP request successful" for m in messages)
    assert upstream.calls == ["/data"]

    execution = requests.get(f"{server}/api/v1/executions/{execution_id}", headers=auth, timeout=10).json()
    assert execution["status"] == "completed" and execution["result"] == {"output": "value"}
    assert isinstance(execution["duration"], int)
    logs = requests.get(f"{server}/api/v1/executions/{execution_id}/logs?limit=100", headers=auth, timeout=10).json()
    assert logs["total"] == len(messages)
    http_log = next(entry for entry in logs["logs"] if entry["message"] == "HTTP request successful")
    assert (http_log["node_id"], http_log["node_type"], http_log["data"]["status_code"]) == (
        "start",
        "http.request",
        200,
    )

    lines, _ = ws_messages(f"{ws_base}/workflowdev/api/v1/executions/{execution_id}/logs?token={token}")
    assert len(lines) == logs["total"] and lines[-1]["executionId"] == execution_id

    logout = requests.post(f"{server}/api/v1/auth/logout", headers=auth, timeout=10)
    assert logout.status_code == 200 and logout.json() == {"message": "Logged out successfully"}
    refused = requests.get(f"{server}/api/v1/flows", headers=auth, timeout=10)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
    assert ws_messages(f"{ws_base}/ws/executions/{execution_id}?token={token}") == ([], 4401)
