"""Serve HTTP, WebSockets and the admin (uvicorn) together with the django-q2 workers.

Both run as child processes in the foreground; Ctrl-C (or SIGTERM, or a closed terminal) stops
both cleanly, and if either dies the other is stopped too; a child that has not stopped
within `STOP_SECONDS` is killed with every process it started. The server runs `--servers`
processes (uvicorn's workers, sharing the port); the processes find each other by the bell
(`core/bell.py`).

Several processes count events (requests in the servers, task runs in the workers), so unless
`PROMETHEUS_MULTIPROC_DIR` is set the command gives its children one of its own, under
`VAR_DIR/metrics/`, emptied when it starts and removed when it stops: `/metrics`, whichever
server answers, sums them all.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.bell import process_alive

#: Seconds the children have to stop after SIGTERM before their process groups are killed.
STOP_SECONDS = 15.0


def server_command(host: str, port: int, servers: int) -> list[str]:
    """The uvicorn command line of `servers` processes on `host:port`."""
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "config.asgi:application",
        "--host",
        host,
        "--port",
        str(port),
        "--no-access-log",
        "--lifespan",
        "off",
        # execution messages are a few hundred bytes: compressing each cost the server (and
        # the client) more CPU than the bytes it saved
        "--ws-per-message-deflate",
        "false",
    ]
    if servers > 1:
        command += ["--workers", str(servers)]
    return command


def metrics_directory(root: Path, owner: int) -> Path:
    """An empty directory for the metrics files of `owner`'s children; the directories of
    commands that are no longer running (killed before they could remove theirs) are removed."""
    root.mkdir(parents=True, exist_ok=True)
    for entry in root.iterdir():
        if entry.name.isdigit() and not process_alive(int(entry.name)):
            shutil.rmtree(entry, ignore_errors=True)
    directory = root / str(owner)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(mode=0o700)
    return directory


class Command(BaseCommand):
    help = "Run the ASGI server and the django-q2 cluster together."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument(
            "--servers",
            type=int,
            default=settings.MILLRACE_SERVERS,
            help="Server processes sharing the port (default: MILLRACE_SERVERS).",
        )
        parser.add_argument("--no-workers", action="store_true", help="Serve only; run `qcluster` elsewhere.")

    def handle(self, *args, host: str, port: int, servers: int, no_workers: bool, **options) -> None:
        if servers < 1:
            raise CommandError("--servers must be 1 or more.")
        env = dict(os.environ)
        metrics = None
        if not env.get("PROMETHEUS_MULTIPROC_DIR"):
            metrics = metrics_directory(Path(settings.VAR_DIR) / "metrics", os.getpid())
            env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
        try:
            self._serve(server_command(host, port, servers), env, host, port, no_workers)
        finally:
            if metrics is not None:
                shutil.rmtree(metrics, ignore_errors=True)

    def _serve(self, server: list[str], env: dict[str, str], host: str, port: int, no_workers: bool) -> None:
        # Each child leads a process group of its own: Ctrl-C reaches this command, which stops
        # each child once with SIGTERM, and what a child leaves running (uvicorn's servers,
        # django-q2's forked workers) is killed with its group rather than orphaned.
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # before a child can miss one
            signal.signal(number, stop)
        children = [subprocess.Popen(server, env=env, process_group=0)]
        if not no_workers:
            children.append(subprocess.Popen([sys.executable, "manage.py", "worker"], env=env, process_group=0))
        self.stdout.write(f"Millrace on http://{host}:{port}/  (admin: /admin/, API docs: /api/docs/). Ctrl-C stops.")
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.2)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for child in children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):  # the group is gone: nothing was left
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        failed = [child.returncode for child in children if child.returncode not in (0, -signal.SIGTERM)]
        if failed and not stopping:
            raise SystemExit(failed[0])
