"""Peers and fault injectors of the chaos tests: a sink that counts step calls, a fake connector
proxy that answers 202 and calls back later, Redis stopped and started again, PostgreSQL
restarted."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

REDIS_START = [
    "redis-server",
    "--daemonize",
    "yes",
    "--bind",
    "127.0.0.1",
    "-::1",
    "--port",
    "6379",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    "/var/lib/redis",
    "--logfile",
    "/var/log/redis/ci.log",
]


def _json_server(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _answer(handler: BaseHTTPRequestHandler, status: int, payload: object) -> None:
    body = json.dumps(payload).encode()
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the caller was killed while waiting: its attempt is lost, as the test intends


@dataclass(frozen=True)
class Call:
    execution: str
    step: str
    attempt: int


class StepSink:
    """Counts the calls of HTTP steps, each carrying its execution id, step name and attempt.

    Every call is answered 200 after `delay` seconds, so steps are in flight when a worker dies.
    """

    def __init__(self, delay: float = 0.02) -> None:
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                call = Call(str(body["execution"]), str(body["step"]), int(body["attempt"]))
                with sink._lock:
                    sink.calls.append(call)
                time.sleep(delay)
                _answer(self, 200, {"ok": True, "attempt": call.attempt})

            def log_message(self, *args) -> None:
                return

        self.server = _json_server(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/step"

    def counts(self) -> Counter[tuple[str, str]]:
        """Calls per (execution, step)."""
        with self._lock:
            return Counter((call.execution, call.step) for call in self.calls)

    def repeated_attempts(self) -> list[Call]:
        """Calls that carried an attempt number already seen for their step: a step run twice
        without the engine counting a new attempt."""
        with self._lock:
            seen = Counter(self.calls)
        return [call for call, count in seen.items() if count > 1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeProxy:
    """A connector proxy whose commands answer 202 and call back later, as a long-running
    SpiffWorkflow command does. `release()` PUTs every pending callback, retrying while
    Millrace is unreachable or answers 5xx (a restarting server), as a proxy should."""

    def __init__(self) -> None:
        self.pending: list[tuple[str, dict]] = []
        self.delivered: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                url = body.pop("spiff__callback_url")
                with proxy._lock:
                    proxy.pending.append((url, body))
                _answer(self, 202, {"command_response": {"body": {"task_id": len(proxy.pending)}, "http_status": 202}})

            def log_message(self, *args) -> None:
                return

        self.server = _json_server(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def accepted(self) -> int:
        with self._lock:
            return len(self.pending)

    def release(self, deadline: float) -> None:
        """PUT each pending callback with the command's parameters as its body; gives up at
        `deadline` (time.monotonic()), which the test then reports as a failure."""
        with self._lock:
            pending, self.pending = self.pending, []
        for url, parameters in pending:
            envelope = {"command_response": {"body": {"echo": parameters}, "http_status": 200}}
            while True:
                try:
                    status = requests.put(url, json=envelope, timeout=10).status_code
                except requests.RequestException:
                    status = 0
                if 0 < status < 500 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            with self._lock:
                self.delivered.append((url, status))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def redis_up() -> bool:
    return subprocess.run(["redis-cli", "ping"], capture_output=True, text=True).stdout.strip() == "PONG"


def redis_stop() -> None:
    subprocess.run(["redis-cli", "shutdown", "nosave"], capture_output=True)
    deadline = time.monotonic() + 10
    while redis_up() and time.monotonic() < deadline:
        time.sleep(0.05)


def redis_start() -> None:
    """Start Redis unless it runs, and wait until it answers."""
    deadline = time.monotonic() + 10
    if not redis_up():
        subprocess.run(REDIS_START, capture_output=True)
    while not redis_up():
        if time.monotonic() > deadline:
            raise RuntimeError("Redis did not come back")
        time.sleep(0.05)


def redis_restart(outage: float = 1.0) -> None:
    """Stop Redis (its queued tasks are lost, the servers' ring subscriptions drop), wait, start it."""
    try:
        redis_stop()
        time.sleep(outage)
    finally:
        redis_start()


def postgres_restart() -> None:
    """Restart the local PostgreSQL cluster with a fast shutdown: every connection of every
    process is cut, and queries fail until it is back (pg_ctl waits for that)."""
    clusters = sorted(Path("/etc/postgresql").iterdir())
    if not clusters:
        raise RuntimeError("no PostgreSQL cluster under /etc/postgresql")
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", clusters[-1].name, "main", "restart", "-m", "fast"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"PostgreSQL did not restart: {done.stderr.strip() or done.stdout.strip()}")
