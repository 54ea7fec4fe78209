"""Fixtures for script tests: limits and isolation set per test, finding a run's processes from
outside its namespace, and telling whether processes still live."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def limits(settings: Any) -> Callable[..., None]:
    """Lower some of MILLRACE_SCRIPT_LIMITS for one test: `limits(processes=8)`."""

    def lower(**values: int) -> None:
        settings.MILLRACE_SCRIPT_LIMITS = {**settings.MILLRACE_SCRIPT_LIMITS, **values}

    return lower


def alive(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie waiting to be reaped is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] not in (b"Z", b"X")


#: Shell that prints the run's session id: the pid, as the worker sees it, of the process the
#: runner started, which the runner records beside the working directory. `$$` would not do:
#: in the script's own PID namespace the shell is pid 2.
PRINT_SESSION = "while [ ! -s ../session ]; do sleep 0.01; done; cut -d' ' -f1 ../session"
#: The same in Python.
PRINT_SESSION_PY = (
    "import os as _os, time as _time\n"
    "while not (_os.path.exists('../session') and _os.path.getsize('../session')):\n"
    "    _time.sleep(0.01)\n"
    "print(open('../session').read().split()[0], flush=True)\n"
)


@pytest.fixture(params=["namespace", "process"])
def isolation(request: pytest.FixtureRequest, settings: Any) -> str:
    """Run the test once with each MILLRACE_SCRIPTS_ISOLATION."""
    settings.MILLRACE_SCRIPTS_ISOLATION = request.param
    return request.param


@pytest.fixture
def token() -> str:
    """A number of seconds no other process has among its arguments: `sleep <token>` marks the
    processes a test script starts, so the test can find them from outside any namespace."""
    return f"60.{random.randrange(10**6):06d}"


def running(argument: str) -> list[int]:
    """Live processes that have `argument` as one of their arguments."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argument.encode() in arguments and alive(int(entry.name)):
            found.append(int(entry.name))
    return found
