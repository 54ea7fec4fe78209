"""Serve HTTP, WebSockets and the admin (uvicorn) together with the django-q2 workers.

Both run as child processes in the foreground; Ctrl-C (or SIGTERM) stops both cleanly,
and if either dies the other is stopped too.
"""

import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the ASGI server and the django-q2 cluster together."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--no-workers", action="store_true", help="Serve only; run `qcluster` elsewhere.")

    def handle(self, *args, host: str, port: int, no_workers: bool, **options) -> None:
        server = [
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
        children = [subprocess.Popen(server)]
        if not no_workers:
            children.append(subprocess.Popen([sys.executable, "manage.py", "worker"]))
        self.stdout.write(f"Millrace on http://{host}:{port}/  (admin: /admin/, API docs: /api/docs/). Ctrl-C stops.")
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.2)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        failed = [child.returncode for child in children if child.returncode not in (0, -signal.SIGTERM)]
        if failed and not stopping:
            raise SystemExit(failed[0])
