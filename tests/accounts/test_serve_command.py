"""`manage.py serve`: the server's command line, its metrics directory, bad arguments, and how
it stops children that die or do not stop (the real servers and workers run in
tests/system/test_embedded_bell.py)."""

import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from accounts.management.commands import serve
from accounts.management.commands.serve import Command, metrics_directory, server_command


def test_one_server_process_is_plain_uvicorn_and_more_are_its_workers():
    one = server_command("127.0.0.1", 8123, 1)
    assert one[1:4] == ["-m", "uvicorn", "config.asgi:application"]
    assert "--workers" not in one
    assert one[one.index("--port") + 1] == "8123"
    three = server_command("0.0.0.0", 8123, 3)
    assert three[three.index("--workers") + 1] == "3"
    assert three[three.index("--host") + 1] == "0.0.0.0"


def test_the_metrics_directory_is_emptied_and_the_ones_of_stopped_commands_removed(tmp_path):
    root = tmp_path / "metrics"
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = root / finished.stdout.strip()  # a command that ended without removing its directory
    (stale / "counter_1.db").parent.mkdir(parents=True)
    (stale / "counter_1.db").write_bytes(b"old")
    alive = root / str(os.getppid())  # another command still running: left alone
    alive.mkdir()
    (root / str(os.getpid())).mkdir()
    (root / str(os.getpid()) / "counter_2.db").write_bytes(b"earlier run of this pid")

    directory = metrics_directory(root, os.getpid())

    assert directory == root / str(os.getpid())
    assert list(directory.iterdir()) == []
    assert not stale.exists()
    assert alive.is_dir()
    assert directory.stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("servers", ["0", "-1", "two"])
def test_fewer_than_one_server_is_refused(servers):
    with pytest.raises(CommandError, match="--servers"):
        call_command("serve", "--servers", servers)


# A child that starts a grandchild (`sleep`), writes its pid and then exits or ignores SIGTERM.
CHILD = """
import signal, subprocess, sys, time
grandchild = subprocess.Popen(["sleep", "60"])
open(sys.argv[1], "w").write(str(grandchild.pid))
if sys.argv[2] == "exit":
    sys.exit(3)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
time.sleep(60)
"""


def gone(pid: int, within: float = 5) -> bool:
    """Whether `pid` ends (or is only a zombie left for its new parent to reap) within `within` s."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def wait_for_file(path: Path) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return int(path.read_text())
        time.sleep(0.05)
    raise AssertionError(f"{path} was never written")


@pytest.fixture
def signal_handlers():
    """`serve` installs its own SIGINT, SIGTERM and SIGHUP handlers: the test process's come back."""
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


def test_a_child_that_dies_leaves_nothing_running(tmp_path, signal_handlers):
    pid_file = tmp_path / "grandchild.pid"
    with pytest.raises(SystemExit) as stopped:
        Command(stdout=io.StringIO())._serve(
            [sys.executable, "-c", CHILD, str(pid_file), "exit"], dict(os.environ), "127.0.0.1", 0, no_workers=True
        )
    assert stopped.value.code == 3
    assert gone(wait_for_file(pid_file))


def test_a_child_that_ignores_sigterm_is_killed_with_what_it_started(tmp_path, signal_handlers, monkeypatch):
    monkeypatch.setattr(serve, "STOP_SECONDS", 0.5)
    pid_file = tmp_path / "grandchild.pid"
    stopper = threading.Thread(target=lambda: (wait_for_file(pid_file), os.kill(os.getpid(), signal.SIGTERM)))
    stopper.start()
    started = time.monotonic()
    Command(stdout=io.StringIO())._serve(
        [sys.executable, "-c", CHILD, str(pid_file), "stay"], dict(os.environ), "127.0.0.1", 0, no_workers=True
    )
    stopper.join()
    assert time.monotonic() - started < 10  # stopped at the deadline, not after the child's 60 s
    assert gone(int(pid_file.read_text()))
