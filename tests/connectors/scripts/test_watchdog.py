"""The watchdog's parts on real processes: counting a session, killing it whole, measuring a directory."""

import os
import subprocess
import sys
import time
from pathlib import Path

from connectors.scripts.base import Stop
from connectors.scripts.watchdog import Watchdog, disk_usage, kill_session, session_pids, user_tasks
from tests.connectors.scripts.conftest import alive


def start_session(script: str) -> subprocess.Popen:
    """A shell in a session of its own running `script`."""
    return subprocess.Popen(["/bin/sh", "-c", script], start_new_session=True, stdout=subprocess.DEVNULL)


def wait_for(predicate, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_session_is_counted_and_killed_whole_even_its_orphans_and_other_groups():
    # `( sleep & )` orphans its sleep (reparented away from the shell); the Python child moves to
    # a process group of its own: both stay in the session, and both must die.
    own_group = f"{sys.executable} -c 'import os, time; os.setpgid(0, 0); time.sleep(60)'"
    shell = start_session(f"(sleep 60 &); sleep 60 & {own_group} & wait")
    try:
        wait_for(lambda: len({os.getpgid(pid) for pid in session_pids(shell.pid)}) == 2)
        members = session_pids(shell.pid)
        assert shell.pid in members and len(members) == 4
        kill_session(shell.pid)
        assert session_pids(shell.pid) == []
        assert not any(alive(pid) for pid in members)
    finally:
        kill_session(shell.pid)
        shell.wait(timeout=10)


def test_killing_a_session_that_forks_as_fast_as_it_can_ends_it():
    shell = start_session("while true; do sleep 60 & done")
    try:
        wait_for(lambda: len(session_pids(shell.pid)) > 50)
        kill_session(shell.pid)
        assert session_pids(shell.pid) == []
    finally:
        kill_session(shell.pid)
        shell.wait(timeout=10)


def test_killing_a_finished_session_is_harmless():
    shell = start_session("true")
    shell.wait(timeout=10)
    kill_session(shell.pid)
    assert session_pids(shell.pid) == []


def test_this_users_tasks_are_counted():
    assert user_tasks(os.getuid()) >= 1
    assert user_tasks(2**31 - 2) == 0  # nobody runs as that user


def test_disk_usage_counts_blocks_once_per_file_and_follows_no_link(tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one").write_bytes(b"x" * 100_000)
    os.link(tmp_path / "a" / "one", tmp_path / "hard")
    (tmp_path / "etc").symlink_to("/etc")
    with open(tmp_path / "sparse", "wb") as sparse:
        sparse.truncate(10**9)  # a gigabyte long, nothing on disk
    usage = disk_usage(tmp_path)
    assert 100_000 <= usage < 200_000


def test_the_watchdog_trips_on_too_many_processes_and_kills_the_session(tmp_path: Path):
    shell = start_session("i=0; while [ $i -lt 100 ]; do sleep 60 & i=$((i+1)); done; wait")
    reasons = []
    watchdog = Watchdog(shell.pid, tmp_path, processes=10, disk_bytes=10**9, trip=reasons.append)
    watchdog.start()
    try:
        shell.wait(timeout=10)
    finally:
        watchdog.finish()
        kill_session(shell.pid)
    assert reasons == [Stop.PROCESSES]
    assert session_pids(shell.pid) == []


def test_the_watchdog_trips_on_a_directory_that_grows_too_large(tmp_path: Path):
    shell = start_session(f"cd {tmp_path}; i=0; while true; do head -c 100000 /dev/zero > f$i; i=$((i+1)); done")
    reasons = []
    watchdog = Watchdog(shell.pid, tmp_path, processes=1000, disk_bytes=1_000_000, trip=reasons.append)
    watchdog.start()
    try:
        shell.wait(timeout=10)
    finally:
        watchdog.finish()
        kill_session(shell.pid)
    assert reasons == [Stop.DISK]
    assert disk_usage(tmp_path) < 500_000_000  # stopped within moments, not when the disk filled


def test_a_quiet_session_is_left_alone(tmp_path: Path):
    shell = start_session("sleep 0.5")
    reasons = []
    watchdog = Watchdog(shell.pid, tmp_path, processes=5, disk_bytes=10**6, trip=reasons.append)
    watchdog.start()
    shell.wait(timeout=10)
    watchdog.finish()
    assert reasons == [] and shell.returncode == 0
