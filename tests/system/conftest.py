"""System tests: real worker processes on PostgreSQL + Redis (the `services` marker)."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
LOG_TAIL = 60


LOOPBACK = "127.0.0.0/8"


@pytest.fixture(autouse=True)
def loopback_allowed(settings) -> None:
    """The test process judges outbound URLs as the workers do: flows and agents saved here
    (checked against the policy at save time) call the local test servers."""
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = [LOOPBACK]


@pytest.fixture
def worker_env(transactional_db) -> dict[str, str]:
    """The environment of a worker process that shares this test's database."""
    env = dict(os.environ)
    database = connection.settings_dict
    env["DATABASE_URL"] = (
        f"postgres://{database['USER'] or 'postgres'}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}"
        f"/{database['NAME']}"
    )
    env.update({"MILLRACE_HTTP_ALLOWED_NETWORKS": LOOPBACK, "MILLRACE_WORKERS": "2", "LOG_LEVEL": "WARNING"})
    return env


@pytest.fixture
def process_logs(tmp_path) -> Iterator[Path]:
    """Where started processes write their output; its tail is printed at teardown, which
    pytest shows with a failed test's report."""
    directory = tmp_path / "logs"
    directory.mkdir()
    yield directory
    for log in sorted(directory.iterdir()):
        lines = log.read_text(errors="replace").splitlines()
        print(f"--- {log.name} (last {min(len(lines), LOG_TAIL)} of {len(lines)} lines)")
        print("\n".join(lines[-LOG_TAIL:]))


def _log_file(directory: Path, name: str):
    return open(directory / f"{name}.log", "ab")


class Workers:
    """Start and kill `manage.py worker` process groups, each logging to `worker-<n>.log`."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.processes: dict[str, subprocess.Popen] = {}
        self.killed: set[int] = set()

    def start(self, **extra_env: str) -> subprocess.Popen:
        name = f"worker-{len(self.processes) + 1}"
        with _log_file(self.logs, name) as log:
            process = subprocess.Popen(
                [sys.executable, "manage.py", "worker", "--sweep-interval", "0.2"],
                cwd=ROOT,
                env={**self.env, **extra_env},
                start_new_session=True,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes[name] = process
        return process

    def kill9(self, process: subprocess.Popen) -> None:
        """SIGKILL the whole process group: the cluster and every forked worker die at once."""
        self.killed.add(process.pid)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> list[str]:
        """Tests leave nothing behind worth a graceful stop: kill what is still running. Returns
        the workers that exited on their own (tests only ever kill them)."""
        exited = [
            name
            for name, process in self.processes.items()
            if process.poll() is not None and process.pid not in self.killed
        ]
        for process in self.processes.values():
            if process.poll() is None:
                self.kill9(process)
        return exited


@pytest.fixture
def workers(worker_env, process_logs) -> Iterator[Workers]:
    pool = Workers(worker_env, process_logs)
    yield pool
    exited = pool.stop_all()
    drop_other_sessions()
    assert not exited, f"workers exited on their own (see their logs): {exited}"


def drop_other_sessions() -> None:
    """Killed processes leave server sessions behind for a moment; end them so the test
    database can be flushed and dropped."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """`uvicorn config.asgi:application` on a fixed port, sharing the test database; it can be
    killed and started again on the same port (callback URLs handed out before stay valid)."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.logs = logs
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env.update({"MILLRACE_PUBLIC_URL": self.url, "ALLOWED_HOSTS": "127.0.0.1,localhost"})
        self.env = env
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with _log_file(self.logs, "server") as log:
            process = self.process = self._spawn(log)

        def live() -> bool:
            assert process.poll() is None, "uvicorn exited"
            try:
                return requests.get(f"{self.url}/healthz", timeout=1).ok
            except requests.RequestException:
                return False

        wait_until(live, 30, "the uvicorn server")

    def _spawn(self, log) -> subprocess.Popen:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill9(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill9()


@pytest.fixture
def live_server_process(worker_env, process_logs) -> Iterator[Server]:
    """A started `Server` the test may kill and start again. Its URL becomes
    MILLRACE_PUBLIC_URL in `worker_env` (request it before `workers`)."""
    process = Server(worker_env, process_logs)
    try:
        process.start()
        yield process
    finally:
        process.stop()


@pytest.fixture
def server(live_server_process) -> str:
    """The URL of a `Server` (see `live_server_process`)."""
    return live_server_process.url
