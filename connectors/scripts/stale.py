"""Runs whose worker died: their processes are killed and their directories removed.

A worker killed while its script runs (SIGKILL, an out-of-memory kill, the task queue's own
timeout) cleans nothing up. The launcher asks the kernel to kill the run's first process with
its worker (PR_SET_PDEATHSIG): in a PID namespace that takes the whole script along, but without
one (MILLRACE_SCRIPTS_ISOLATION=process) what the script started lives on, and the directory
stays either way. So each run records its session in its directory (`session`: the session id and its
leader's start time), and every new run first sweeps the directories of this user whose worker
is gone: it kills what is left of their session and removes them.

A session id is safe to kill by: the kernel does not give a pid to a new process while any
process still uses it as a session id, so the processes found in that session are the run's.
Only when the leader itself still lives is it checked to be the same process (its start time).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from connectors.scripts.watchdog import kill_session, start_ticks
from connectors.scripts.workdir import ROOT_PREFIX, remove_tree

SESSION_FILE = "session"
_ROOT = re.compile(rf"{re.escape(ROOT_PREFIX)}(\d+)-(\d+)-\w+")


def record_session(root: Path, session: int) -> None:
    (root / SESSION_FILE).write_text(f"{session} {start_ticks(session) or 0}")


def _kill_recorded(root: Path) -> None:
    try:
        session, ticks = (int(part) for part in (root / SESSION_FILE).read_text().split())
    except (OSError, ValueError):
        return
    if start_ticks(session) in (None, ticks):
        kill_session(session)


def sweep_stale(base: Path | None = None) -> list[Path]:
    """Clean up the runs in `base` (the temporary directory) of workers that are gone; returns
    the directories removed. Only this user's directories count: another user's could name any
    session."""
    removed = []
    base = Path(tempfile.gettempdir()) if base is None else base
    for root in base.glob(f"{ROOT_PREFIX}*"):
        match = _ROOT.fullmatch(root.name)
        try:
            info = root.lstat()
        except OSError:
            continue
        if match is None or info.st_uid != os.getuid() or not root.is_dir() or root.is_symlink():
            continue
        if start_ticks(int(match[1])) == int(match[2]):
            continue  # its worker still runs it
        _kill_recorded(root)
        remove_tree(root)
        removed.append(root)
    return removed
