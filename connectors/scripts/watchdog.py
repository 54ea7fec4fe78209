"""Counting and killing the processes of a script's session, and measuring its working directory.

Resource limits alone do not hold a script: Linux does not apply RLIMIT_NPROC to root (and to
anyone else it counts every process of the user, not of the script), and no rlimit bounds a
directory. So a thread watches each run: it counts the live processes of the script's session
(started with `setsid`, the session id is the first process's pid) from `/proc`, and sums the
working directory's size, and kills the session when either passes its limit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from connectors.scripts.base import Stop

PROC = Path("/proc")
#: Seconds between two process counts, at least; a count that takes longer (a host with many
#: processes) spaces them out so that counting never costs more than a tenth of a core.
COUNT_INTERVAL = 0.05
#: Seconds between two measures of the working directory, at least (likewise stretched).
DISK_INTERVAL = 0.25
KILL_ROUNDS = 200


def session_pids(session: int) -> list[int]:
    """The live (not zombie) processes whose session id is `session`; empty without `/proc`."""
    pids = []
    try:
        entries = os.scandir(PROC)
    except OSError:
        return pids
    with entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                fd = os.open(f"/proc/{entry.name}/stat", os.O_RDONLY)
                try:
                    stat = os.read(fd, 1024)
                finally:
                    os.close(fd)
            except OSError:  # gone meanwhile
                continue
            # `pid (comm) state ppid pgrp session ...`; comm may hold spaces and parentheses
            fields = stat[stat.rfind(b")") + 2 :].split(b" ", 4)
            if len(fields) > 3 and fields[0] not in (b"Z", b"X") and int(fields[3]) == session:
                pids.append(int(entry.name))
    return pids


def start_ticks(pid: int) -> int | None:
    """When process `pid` started (clock ticks after boot), None when there is no such process:
    with its pid, it names one process, even after the pid is reused."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            stat = file.read()
    except OSError:
        return None
    return int(stat[stat.rfind(b")") + 2 :].split(b" ", 20)[19])


def user_tasks(uid: int) -> int:
    """How many tasks (threads) processes of `uid` run: what RLIMIT_NPROC counts for that user."""
    count = 0
    try:
        entries = os.scandir(PROC)
    except OSError:
        return count
    with entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                if entry.stat().st_uid != uid:
                    continue
                with open(f"/proc/{entry.name}/stat", "rb") as stat:
                    fields = stat.read()
            except OSError:
                continue
            count += int(fields[fields.rfind(b")") + 2 :].split(b" ", 18)[17])
    return count


def kill_session(session: int) -> None:
    """SIGKILL the session's process group and every process still in the session, again and
    again until none is left (a process may fork between a count and a kill)."""
    for _ in range(KILL_ROUNDS):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(session, signal.SIGKILL)
        pids = session_pids(session)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)


def disk_usage(root: Path) -> int:
    """Bytes the files under `root` take on disk (each inode once; symbolic links not followed)."""
    total, seen = 0, set()
    stack = [str(root)]
    while stack:
        try:
            entries = os.scandir(stack.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                if (info.st_dev, info.st_ino) not in seen:
                    seen.add((info.st_dev, info.st_ino))
                    total += max(info.st_blocks * 512, 0)
    return total


class Watchdog(threading.Thread):
    """Counts the session's processes and measures `root` until `finish()`; on a limit passed it
    calls `trip(reason)` once and kills the session."""

    def __init__(
        self, session: int, root: Path, *, processes: int, disk_bytes: int, trip: Callable[[str], None]
    ) -> None:
        super().__init__(name=f"script-watchdog-{session}", daemon=True)
        self.session = session
        self.root = root
        self.processes = processes
        self.disk_bytes = disk_bytes
        self._trip = trip
        self._done = threading.Event()
        self.tripped: str | None = None

    def finish(self) -> None:
        self._done.set()
        self.join()

    def run(self) -> None:
        count_interval, disk_interval = COUNT_INTERVAL, DISK_INTERVAL
        next_disk = time.monotonic()
        while not self._done.is_set():
            started = time.monotonic()
            if len(session_pids(self.session)) > self.processes:
                self._passed(Stop.PROCESSES)
            count_interval = max(COUNT_INTERVAL, 10 * (time.monotonic() - started))
            if time.monotonic() >= next_disk:
                started = time.monotonic()
                if disk_usage(self.root) > self.disk_bytes:
                    self._passed(Stop.DISK)
                disk_interval = max(DISK_INTERVAL, 10 * (time.monotonic() - started))
                next_disk = time.monotonic() + disk_interval
            self._done.wait(count_interval)

    def _passed(self, reason: str) -> None:
        if self.tripped is None:
            self.tripped = reason
            self._trip(reason)
        kill_session(self.session)
