"""The local runner's launcher: the limits it is handed and what it reports when it cannot start."""

import resource
import time

import pytest

from connectors.scripts import Limits, LocalRunner, ScriptJob, local

LIMITS = Limits(
    cpu_seconds=30, memory_bytes=2**30, file_bytes=2**20, processes=8, open_files=64, disk_bytes=2**24, seconds=60
)


def job(command: list[str], program: str, **given: object) -> ScriptJob:
    """A job with nothing but a command and a program: no files, outputs or outside stop."""
    fields: dict[str, object] = {
        "program_suffix": ".sh",
        "files": {},
        "env": {"PATH": "/usr/bin:/bin"},
        "output_globs": [],
        "limits": LIMITS,
        "deadline": time.monotonic() + 30,
        "is_cancelled": lambda: False,
        "store_output": lambda name, content: "",
        "max_output_file_bytes": 1,
    }
    return ScriptJob(command=command, program=program, **(fields | given))


def parsed(spec: str) -> dict[str, tuple[int, int]]:
    return {name: (int(soft), int(hard)) for name, soft, hard in (item.split(":") for item in spec.split(","))}


def test_the_limits_handed_to_the_launcher(monkeypatch):
    monkeypatch.setattr(local.os, "geteuid", lambda: 0)
    assert parsed(local.rlimits(LIMITS)) == {
        "RLIMIT_CPU": (30, 32),  # SIGXCPU first, SIGKILL two seconds later
        "RLIMIT_AS": (2**30, 2**30),
        "RLIMIT_FSIZE": (2**20, 2**20),
        "RLIMIT_NPROC": (8, 8),
        "RLIMIT_NOFILE": (64, 64),
        "RLIMIT_CORE": (0, 0),
    }


def test_a_non_root_worker_counts_its_users_processes_into_rlimit_nproc(monkeypatch):
    monkeypatch.setattr(local.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(local, "user_tasks", lambda uid: 120)
    assert parsed(local.rlimits(LIMITS))["RLIMIT_NPROC"] == (129, 129)
    assert parsed(local.rlimits(LIMITS, helpers=2))["RLIMIT_NPROC"] == (131, 131)  # unshare and the init


def test_limits_above_what_this_process_may_grant_are_lowered_to_it(monkeypatch):
    real = resource.getrlimit

    def ceiling(which: int) -> tuple[int, int]:
        return (10, 20) if which == resource.RLIMIT_CPU else real(which)

    monkeypatch.setattr(local.resource, "getrlimit", ceiling)
    assert parsed(local.rlimits(LIMITS))["RLIMIT_CPU"] == (20, 20)


@pytest.mark.parametrize("isolation", ["namespace", "process"])
def test_an_interpreter_that_cannot_be_executed_exits_127_with_the_reason(tmp_path, isolation):
    not_executable = tmp_path / "python"
    not_executable.write_text("")
    runnable = job([str(not_executable)], "", program_suffix=".py", env={})
    outcome = LocalRunner(isolation).run(runnable)
    assert outcome.exit_code == 127
    assert outcome.stderr == f"Could not start {not_executable}: Permission denied\n"
