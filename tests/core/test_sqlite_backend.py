"""The embedded default's SQLite backend: writers queue on a lock (threads and processes), and
a transaction's `BEGIN` goes with its first statement. Each test uses a database file of its own."""

import os
import subprocess
import sys
import threading
import time

import pytest
from django.db import OperationalError, connection, connections, transaction

from core.sqlite.base import DatabaseWrapper, writer_lock

ALIAS = "writers"


@pytest.fixture(autouse=True)
def unblocked(django_db_blocker):
    with django_db_blocker.unblock():  # these connections are to files of the tests' own
        yield


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "writers.sqlite3")


def database(path: str, timeout: float = 5) -> DatabaseWrapper:
    """This thread's connection to the file at `path`, under ALIAS (so `transaction.atomic` finds
    it), set up as the embedded default's (config/settings/base.py) whatever the suite runs on."""
    options = {"timeout": timeout, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    settings = {"ENGINE": "core.sqlite", "NAME": path, "OPTIONS": options}
    wrapper = DatabaseWrapper(connections.configure_settings({"default": settings})["default"], alias=ALIAS)
    connections[ALIAS] = wrapper
    return wrapper


def count(db: DatabaseWrapper) -> int:
    with db.cursor() as cursor:
        cursor.execute("SELECT n FROM counter")
        return cursor.fetchone()[0]


@pytest.fixture
def counter(path):
    db = database(path)
    with db.cursor() as cursor:
        cursor.execute("CREATE TABLE counter (n integer)")
        cursor.execute("INSERT INTO counter VALUES (0)")
    yield db
    db.close()


def in_thread(path: str, work, timeout: float = 5) -> threading.Thread:
    def run() -> None:
        db = database(path, timeout)
        try:
            work(db)
        finally:
            db.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_read_then_write_transactions_of_several_threads_never_lose_an_update(path, counter):
    errors = []

    def add(db: DatabaseWrapper) -> None:
        try:
            for _ in range(25):
                with transaction.atomic(using=ALIAS):
                    time.sleep(0.0005)  # before the first statement: no lock held yet
                    with db.cursor() as cursor:
                        cursor.execute("SELECT n FROM counter")
                        seen = cursor.fetchone()[0]
                        time.sleep(0.0005)  # holding the lock: nobody may write meanwhile
                        cursor.execute("UPDATE counter SET n = %s", [seen + 1])
        except Exception as error:
            errors.append(error)

    threads = [in_thread(path, add) for _ in range(4)]
    for thread in threads:
        thread.join()
    assert errors == []
    assert count(counter) == 100


def test_a_transaction_takes_the_lock_with_its_first_statement_not_before(path, counter):
    entered, written = threading.Event(), threading.Event()

    def slow(db: DatabaseWrapper) -> None:
        with transaction.atomic(using=ALIAS):
            entered.set()
            assert written.wait(5)  # computing: another writer goes first
            with db.cursor() as cursor:
                cursor.execute("UPDATE counter SET n = n * 10")

    thread = in_thread(path, slow)
    assert entered.wait(5)
    with counter.cursor() as cursor:
        cursor.execute("UPDATE counter SET n = n + 1")  # would wait for the lock if BEGIN had been sent
    written.set()
    thread.join()
    assert count(counter) == 10


def test_an_empty_transaction_sends_nothing_and_keeps_no_lock(path, counter):
    with transaction.atomic(using=ALIAS):
        pass
    assert not counter.connection.in_transaction and not counter._writing
    with pytest.raises(RuntimeError), transaction.atomic(using=ALIAS):
        raise RuntimeError
    assert not counter._writing
    assert writer_lock(path).threads.acquire(blocking=False)  # free
    writer_lock(path).threads.release()


def test_a_rolled_back_transaction_writes_nothing_and_gives_the_lock_back(path, counter):
    with pytest.raises(RuntimeError), transaction.atomic(using=ALIAS):
        with counter.cursor() as cursor:
            cursor.execute("UPDATE counter SET n = 7")
        assert counter._writing
        raise RuntimeError
    assert not counter._writing
    assert count(counter) == 0
    done = []
    in_thread(path, lambda db: done.append(db.cursor().execute("UPDATE counter SET n = 1"))).join(5)
    assert done and count(counter) == 1


def test_another_thread_s_long_transaction_makes_a_writer_fail_after_its_timeout(path, counter):
    held, release = threading.Event(), threading.Event()

    def hold(db: DatabaseWrapper) -> None:
        with transaction.atomic(using=ALIAS), db.cursor() as cursor:
            cursor.execute("UPDATE counter SET n = 5")
            held.set()
            release.wait(5)

    thread = in_thread(path, hold)
    assert held.wait(5)
    failures = []

    def write(db: DatabaseWrapper) -> None:
        try:
            db.cursor().execute("UPDATE counter SET n = 6")
        except OperationalError as error:
            failures.append(str(error))

    in_thread(path, write, timeout=0.2).join(5)
    release.set()
    thread.join(5)
    assert failures and "locked" in failures[0]
    assert count(counter) == 5


LOCKER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1] + "-writer", os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(60)
"""


def test_a_writer_waits_for_another_process_and_goes_on_once_that_process_is_killed(path, counter):
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, path], stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline().strip() == "held"
        short = database(path, timeout=0.2)
        with pytest.raises(OperationalError, match="another process"):
            short.cursor().execute("UPDATE counter SET n = 1")
        short.close()
        threading.Timer(0.3, locker.kill).start()
        started = time.monotonic()
        patient = database(path, timeout=10)
        patient.cursor().execute("UPDATE counter SET n = 2")  # the kernel drops a dead process's lock
        waited = time.monotonic() - started
        patient.close()
    finally:
        locker.kill()
        locker.wait()
    assert 0.2 < waited < 5
    assert count(counter) == 2


def test_a_forked_child_has_a_lock_of_its_own(path, counter):
    """Sharing the parent's open file would share its lock: the child could write beside it."""
    assert counter.take_writer_lock()
    try:
        pid = os.fork()
        if pid == 0:  # the child: exit 0 only if the parent's lock keeps it out
            try:
                if counter._writer.fd != -1:  # the parent's open file is closed in the child
                    os._exit(3)
                writer_lock(path).acquire(0.2)
                os._exit(1)
            except OperationalError:
                os._exit(0)
            finally:
                os._exit(2)
        _, status = os.waitpid(pid, 0)
        held = subprocess.run([sys.executable, "-c", PROBE, path], check=False).returncode
    finally:
        counter.give_writer_lock()
    assert os.waitstatus_to_exitcode(status) == 0
    assert held == 1  # closing its copy in the child left the parent's lock held


PROBE = """
import fcntl, os, sys
fd = os.open(sys.argv[1] + "-writer", os.O_RDWR)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except BlockingIOError:
    sys.exit(1)
"""


@pytest.mark.django_db
def test_the_test_database_in_memory_has_no_lock_file():
    connection.ensure_connection()
    assert connection.vendor != "sqlite" or connection._writer is None
