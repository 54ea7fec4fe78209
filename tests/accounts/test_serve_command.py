"""`manage.py serve`: the server's command line, its metrics directory and bad arguments (the
processes themselves run in tests/system/test_embedded_bell.py)."""

import os
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from accounts.management.commands.serve import metrics_directory, server_command


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


@pytest.mark.parametrize("servers", ["0", "-1"])
def test_fewer_than_one_server_is_refused(servers):
    with pytest.raises(CommandError, match="--servers"):
        call_command("serve", "--servers", servers)
