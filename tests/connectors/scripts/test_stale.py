"""A worker that dies mid-run: its script dies with it (all of it, in its own PID namespace; its
first process only, without one), and the next run cleans up what is left (the rest of the
session, the directory)."""

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from connectors.scripts.stale import record_session, sweep_stale
from connectors.scripts.watchdog import kill_session, session_pids, start_ticks
from connectors.scripts.workdir import ROOT_PREFIX, make_root
from tests.connectors.scripts.conftest import alive, running

ROOT = Path(__file__).resolve().parents[3]

#: A worker in miniature: runs one script with the local runner and is then killed by the test.
WORKER = textwrap.dedent(
    """
    import sys
    from connectors.scripts import Limits, LocalRunner, ScriptJob

    limits = Limits(
        cpu_seconds=60, memory_bytes=2**31, file_bytes=2**20, processes=16, open_files=64, disk_bytes=2**24,
        seconds=120,
    )
    LocalRunner(sys.argv[2]).run(
        ScriptJob(
            command=["/bin/sh"], program=sys.argv[1], program_suffix=".sh", files={}, env={"PATH": "/usr/bin:/bin"},
            output_globs=[], limits=limits, deadline=None, is_cancelled=lambda: False,
            store_output=lambda name, content: "", max_output_file_bytes=1,
        )
    )
    """
)


def wait_for(predicate, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("isolation", ["namespace", "process"])
def test_a_killed_worker_takes_its_script_along_and_the_next_run_cleans_up_the_rest(isolation: str, token: str):
    script = f"sleep {token} & sleep {token}"
    worker = subprocess.Popen([sys.executable, "-c", WORKER, script, isolation], cwd=ROOT)
    try:
        wait_for(lambda: len(running(token)) == 2)
        (root,) = [path for path in Path(tempfile.gettempdir()).glob(f"{ROOT_PREFIX}{worker.pid}-*")]
        leader = int((root / "session").read_text().split()[0])  # the process the runner started
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        wait_for(lambda: not alive(leader))  # PR_SET_PDEATHSIG
        if isolation == "namespace":  # the namespace's init died with it, and the kernel killed the rest
            wait_for(lambda: session_pids(leader) == [] and running(token) == [])
        else:  # what the shell started lives on
            assert len(running(token)) == 2
        assert root.exists()
        assert root in sweep_stale()
        assert running(token) == [] and session_pids(leader) == [] and not root.exists()
    finally:
        worker.kill()
        worker.wait(timeout=10)


def start_session() -> subprocess.Popen:
    """A shell leading a session of its own, with two sleeps, once all three run."""
    shell = subprocess.Popen(["/bin/sh", "-c", "sleep 60 & sleep 60"], start_new_session=True)
    wait_for(lambda: len(session_pids(shell.pid)) == 3)
    return shell


def stale_root(base: Path, pid: int = 1, ticks: int = 7) -> Path:
    """A run directory whose worker (pid 1 that did not start at tick 7) is gone."""
    root = base / f"{ROOT_PREFIX}{pid}-{ticks}-abc"
    (root / "work").mkdir(parents=True)
    return root


def test_a_live_workers_runs_are_left_alone(tmp_path: Path):
    live = Path(tempfile.mkdtemp(prefix=f"{ROOT_PREFIX}{os.getpid()}-{start_ticks(os.getpid())}-", dir=tmp_path))
    shell = start_session()
    record_session(live, shell.pid)
    try:
        assert sweep_stale(tmp_path) == []
        assert live.exists() and len(session_pids(shell.pid)) == 3
    finally:
        kill_session(shell.pid)
        shell.wait(timeout=10)


def test_a_dead_workers_run_is_killed_and_removed(tmp_path: Path):
    root = stale_root(tmp_path)
    shell = start_session()
    record_session(root, shell.pid)
    try:
        assert sweep_stale(tmp_path) == [root]
        assert session_pids(shell.pid) == [] and not root.exists()
    finally:
        kill_session(shell.pid)
        shell.wait(timeout=10)


def test_a_session_whose_leader_pid_now_names_another_process_is_not_killed(tmp_path: Path):
    root = stale_root(tmp_path)
    other = start_session()
    (root / "session").write_text(f"{other.pid} {start_ticks(other.pid) + 1}")  # not the recorded leader
    try:
        assert sweep_stale(tmp_path) == [root]
        assert len(session_pids(other.pid)) == 3 and not root.exists()
    finally:
        kill_session(other.pid)
        other.wait(timeout=10)


def test_directories_that_only_look_like_runs_are_left_alone(tmp_path: Path):
    (tmp_path / f"{ROOT_PREFIX}not-ours").mkdir()
    (tmp_path / f"{ROOT_PREFIX}1-7-file").write_text("x")
    target = stale_root(tmp_path / "elsewhere")
    (tmp_path / f"{ROOT_PREFIX}1-7-link").symlink_to(target)
    unreadable = stale_root(tmp_path, ticks=8)
    (unreadable / "session").write_text("not numbers")
    assert sweep_stale(tmp_path) == [unreadable]
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "elsewhere",
        f"{ROOT_PREFIX}1-7-file",
        f"{ROOT_PREFIX}1-7-link",
        f"{ROOT_PREFIX}not-ours",
    ]


def test_a_new_root_names_its_worker():
    root = make_root()
    try:
        assert root.name.startswith(f"{ROOT_PREFIX}{os.getpid()}-{start_ticks(os.getpid())}-")
        assert sweep_stale(root.parent).count(root) == 0
    finally:
        root.joinpath("work").rmdir()
        root.rmdir()
