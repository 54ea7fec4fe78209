"""A wake-up between the processes of one machine: datagrams on 127.0.0.1.

On the embedded default the workers are other processes than the server, and the in-memory
channel layer cannot cross from one to the other: without a hint, a server learns that an
execution moved only by reading the database again. A `Bell` is that hint. Each listening
process binds a UDP port on 127.0.0.1 and registers it as an empty file named
`<port>.<pid>` in a directory that every process of the same database shares; a ring is one
datagram to each registered port of another process. The sender never waits and never fails
for it (a full or gone listener loses the ring), and the listener only learns that there is
something to read: the database stays the record, and listeners still read now and then.

UDP rather than UNIX datagram sockets: Linux queues only `net.unix.max_dgram_qlen` datagrams
(often 10) on a UNIX socket, and a UDP socket as many as its receive buffer holds (hundreds of
these small ones). Only processes of this machine can reach 127.0.0.1, and a forged ring
costs one read.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections

logger = logging.getLogger("millrace.bell")

#: Seconds after which a sender lists the directory again even if its mtime did not change
#: (a registration within the file system's timestamp granularity leaves it unchanged).
RELIST_SECONDS = 1.0
#: Bytes of receive buffer a listener asks for (the kernel caps it at `net.core.rmem_max`).
RECEIVE_BUFFER = 1 << 20
MAX_DATAGRAM = 8192


def database_bell(name: str) -> Bell | None:
    """The bell `name` of the processes of this machine that share its default database; None
    for a database only one process can open (SQLite in memory)."""
    database = connections["default"]
    if database.vendor == "sqlite" and database.is_in_memory_db():
        return None
    return Bell(bell_root(database.vendor, database.settings_dict) / name)


def bell_root(vendor: str, names: dict[str, Any]) -> Path:
    """The directory of a database's bells, under `VAR_DIR/bell/`, named after its identity."""
    where = os.path.realpath(names["NAME"]) if vendor == "sqlite" else names.get("NAME")
    identity = f"{vendor}:{names.get('HOST') or ''}:{names.get('PORT') or ''}:{where}"
    return Path(settings.VAR_DIR) / "bell" / hashlib.sha256(identity.encode()).hexdigest()[:16]


_senders: dict[int, socket.socket] = {}  # one sending socket per process (a fork gets its own)
_senders_lock = threading.Lock()


@atexit.register
def _close_senders() -> None:
    with _senders_lock:
        for sender in _senders.values():
            sender.close()
        _senders.clear()


def _sender() -> socket.socket:
    with _senders_lock:
        sender = _senders.get(os.getpid())
        if sender is None:
            _senders.clear()  # the parent's, if this process was forked: left open for it
            sender = _senders[os.getpid()] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sender.setblocking(False)
        return sender


class Bell:
    """The senders' side: ring every listener registered in `directory` by another process."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._ports: list[int] = []
        self._stamp: int | None = None
        self._listed_at = float("-inf")

    def ring(self, message: bytes) -> None:
        """Send `message` to every other process's listener; never blocks and never raises."""
        try:
            ports = self._peer_ports()
            if not ports:
                return
            sender = _sender()
            for port in ports:
                with contextlib.suppress(OSError):  # a full buffer (BlockingIOError) or a port gone
                    sender.sendto(message, ("127.0.0.1", port))
        except OSError as error:
            logger.debug("Could not ring %s: %s", self.directory, error)

    def _peer_ports(self) -> list[int]:
        """The registered ports of other processes, listed again when the directory changed."""
        try:
            stamp = os.stat(self.directory).st_mtime_ns
        except FileNotFoundError:
            return []
        now = time.monotonic()
        if stamp != self._stamp or now - self._listed_at > RELIST_SECONDS:
            own = os.getpid()
            self._ports = [port for port, pid in registrations(self.directory) if pid != own]
            self._stamp, self._listed_at = stamp, now
        return self._ports


def registrations(directory: Path) -> list[tuple[int, int]]:
    """(port, pid) of every listener registered in `directory`."""
    found = []
    with contextlib.suppress(FileNotFoundError), os.scandir(directory) as entries:
        for entry in entries:
            port, _, pid = entry.name.partition(".")
            if port.isdigit() and pid.isdigit():
                found.append((int(port), int(pid)))
    return found


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


class Listener:
    """A process's port. With a `loop`, each datagram that arrives goes to `on_message` on it;
    without, `wait` blocks until one comes.

    Registering removes the registrations of processes that are gone (a crashed server leaves
    its file behind); closing unregisters.
    """

    def __init__(
        self,
        directory: Path,
        loop: asyncio.AbstractEventLoop | None = None,
        on_message: Callable[[bytes], None] | None = None,
    ) -> None:
        self.loop = loop
        self.on_message = on_message
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        for port, pid in registrations(directory):
            if not process_alive(pid):
                (directory / f"{port}.{pid}").unlink(missing_ok=True)
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            with contextlib.suppress(OSError):
                self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            self.socket.bind(("127.0.0.1", 0))
            self.socket.setblocking(False)
            self.path = directory / f"{self.socket.getsockname()[1]}.{os.getpid()}"
            self.path.touch()
            if loop is not None:
                loop.add_reader(self.socket.fileno(), self._readable)
        except BaseException:
            self.socket.close()
            raise

    def _readable(self) -> None:
        for data in self._drain():
            try:
                self.on_message(data)
            except Exception:
                logger.exception("A bell message could not be handled")

    def _drain(self) -> list[bytes]:
        received = []
        while True:
            try:
                received.append(self.socket.recv(MAX_DATAGRAM))
            except (BlockingIOError, InterruptedError):
                return received
            except OSError as error:
                logger.debug("Bell %s: %s", self.path, error)
                return received

    def wait(self, timeout: float) -> bool:
        """Block until a ring comes (True, every ring waiting taken) or `timeout` seconds pass."""
        readable, _, _ = select.select([self.socket], [], [], timeout)
        return bool(readable and self._drain())

    def close(self) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.remove_reader(self.socket.fileno())
        self.socket.close()
        self.path.unlink(missing_ok=True)
