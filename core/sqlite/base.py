"""Django's SQLite backend whose writers queue on a lock instead of sleeping on SQLite's.

SQLite lets one connection write at a time. A writer that finds the database locked waits in
SQLite's busy handler, which sleeps 1, 2, 5, 10, 15, 20, 25, ... ms between looks whatever
happens meanwhile: with the server, the queue's pusher and monitor and two workers writing
short transactions (about a millisecond each) to one file, the lock was mostly free while its
waiters slept. Profiling the embedded default under webhook load found a worker spending three
fifths of its time in `BEGIN IMMEDIATE`.

Here a connection takes this database's writer lock before it begins a transaction (or runs a
write outside one) and gives it back when the transaction ends:

- threads of one process queue on a `threading.Lock`, woken as soon as it is released;
- processes share an advisory lock (`flock`) on `<database>-writer`, looked for every 50 µs
  at first, at most every millisecond, until the connection's `timeout` has passed; the kernel
  drops it with its process, so a killed writer frees it at once.

SQLite's own lock still decides: a writer that does not take this lock (the `sqlite3` shell,
another program) is waited for by the busy handler as before. An in-memory database, which
one process alone can open, has no lock file.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from typing import Any

from django.db import OperationalError
from django.db.backends.sqlite3 import base

#: First and longest pause between two looks at another process's lock.
FIRST_PAUSE, LONGEST_PAUSE = 50e-6, 1e-3
#: Statements that cannot write: run without the lock outside a transaction.
READS = ("SELECT", "PRAGMA", "EXPLAIN")


class WriterLock:
    """One database file's writers: a thread lock in front of a process lock on a file."""

    def __init__(self, path: str) -> None:
        self.threads = threading.Lock()
        self.fd = os.open(f"{path}-writer", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def acquire(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        if not self.threads.acquire(timeout=max(timeout, 0)):
            raise OperationalError("database is locked (another thread of this process writes)")
        pause = FIRST_PAUSE
        try:
            while True:
                try:
                    fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise OperationalError("database is locked (another process writes)") from None
                    time.sleep(pause)
                    pause = min(pause * 2, LONGEST_PAUSE)
        except BaseException:
            self.threads.release()
            raise

    def release(self) -> None:
        try:
            if self.fd >= 0:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            self.threads.release()

    def forget(self) -> None:
        """In a forked child: close the parent's open file without unlocking it. Kept open, it
        would keep a lock the parent held at the fork after the parent's death."""
        os.close(self.fd)
        self.fd = -1


_locks: dict[str, WriterLock] = {}
_locks_guard = threading.Lock()


def writer_lock(path: str) -> WriterLock:
    """The lock of the database file at `path`, one per process (see `_forget_locks`)."""
    path = os.path.realpath(path)
    with _locks_guard:
        lock = _locks.get(path)
        if lock is None:
            lock = _locks[path] = WriterLock(path)
        return lock


def _forget_locks() -> None:
    """A forked child (django-q2 forks its workers) shares its parent's open file, and with it
    the parent's `flock`: it closes that one and opens its own. A thread lock held at the fork
    stays held in the child, by no thread: it is made anew too."""
    global _locks_guard
    for lock in _locks.values():
        lock.forget()
    _locks.clear()
    _locks_guard = threading.Lock()


os.register_at_fork(after_in_child=_forget_locks)


class DatabaseWrapper(base.DatabaseWrapper):
    _writer: WriterLock | None = None
    _writing = False
    _begin_pending = False

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        self._writer = None if self.is_in_memory_db() else writer_lock(self.settings_dict["NAME"])
        return connection

    def create_cursor(self, name: str | None = None) -> Any:
        cursor = self.connection.cursor(factory=LockingCursorWrapper)
        cursor.database = self
        return cursor

    def take_writer_lock(self) -> bool:
        """Take the lock unless it is ours already or there is none; whether it was taken."""
        if self._writer is None or self._writing:
            return False
        self._writer.acquire(float(self.settings_dict["OPTIONS"].get("timeout", 5)))
        self._writing = True
        return True

    def give_writer_lock(self) -> None:
        if self._writing:
            self._writing = False
            self._writer.release()

    def _start_transaction_under_autocommit(self) -> None:
        # Sent with the transaction's first statement (`begin_pending`): until then the
        # transaction has seen nothing, and its writer waits for no lock while it computes.
        self._begin_pending = True

    def begin_pending(self, cursor: LockingCursorWrapper) -> None:
        """Send the transaction's `BEGIN`, writer lock first, before its first statement."""
        self._begin_pending = False
        taken = self.take_writer_lock()
        try:
            base.SQLiteCursorWrapper.execute(cursor, f"BEGIN {self.transaction_mode or ''}".rstrip())
        except BaseException:
            if taken:
                self.give_writer_lock()
            raise

    def _commit(self) -> None:
        self._end(super()._commit)

    def _rollback(self) -> None:
        self._end(super()._rollback)

    def _end(self, end: Any) -> None:
        """Commit or roll back, and give the lock back; a transaction that sent nothing has
        nothing to end."""
        if self._begin_pending:
            self._begin_pending = False
            return
        try:
            end()
        finally:
            self.give_writer_lock()

    def _close(self) -> None:
        self._begin_pending = False
        try:
            super()._close()
        finally:
            self.give_writer_lock()


class LockingCursorWrapper(base.SQLiteCursorWrapper):
    """Sends a pending `BEGIN` first, and takes the writer lock around a write that runs outside
    a transaction (autocommit)."""

    database: DatabaseWrapper

    def execute(self, query: str, params: Any = None) -> Any:
        return self._run(super().execute, query, params)

    def executemany(self, query: str, param_list: Any) -> Any:
        return self._run(super().executemany, query, param_list)

    def _run(self, run: Any, query: str, params: Any) -> Any:
        database = self.database
        if database._begin_pending:
            database.begin_pending(self)
        if self.connection.in_transaction or _reads(query) or not database.take_writer_lock():
            return run(query, params)
        try:
            return run(query, params)
        finally:
            database.give_writer_lock()


def _reads(query: str) -> bool:
    return query.lstrip()[:7].upper().startswith(READS)
