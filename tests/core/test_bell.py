"""The bell between the processes of one machine: a ring from another process reaches every
registered listener, never this process's own, and a gone or swamped listener costs the
sender nothing."""

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from core import bell
from core.bell import Bell, Listener, bell_root, registrations

ROOT = Path(__file__).resolve().parents[2]


def ring_from_another_process(directory: Path, *messages: bytes, times: int = 1) -> None:
    """Ring with a real sender: a fresh Python process with its own pid."""
    script = "import sys; from pathlib import Path; from core.bell import Bell\n"
    script += "b = Bell(Path(sys.argv[1]))\nfor _ in range(int(sys.argv[2])):\n"
    script += "    for m in sys.argv[3:]: b.ring(m.encode())\n"
    arguments = [str(directory), str(times), *(message.decode() for message in messages)]
    subprocess.run([sys.executable, "-c", script, *arguments], cwd=ROOT, check=True)


async def listen(directory: Path, expected: int, ring) -> list[bytes]:
    """Bind a listener, call `ring()` in a thread, collect `expected` messages (5 s at most)."""
    got: list[bytes] = []
    arrived = asyncio.Event()

    def on_message(data: bytes) -> None:
        got.append(data)
        if len(got) >= expected:
            arrived.set()

    listener = Listener(directory, asyncio.get_running_loop(), on_message)
    try:
        await asyncio.to_thread(ring)
        async with asyncio.timeout(5):
            await arrived.wait()
    finally:
        listener.close()
    return got


def test_a_ring_from_another_process_reaches_each_listener_registered(tmp_path):
    async def two_listeners() -> tuple[list[bytes], list[bytes], list[str]]:
        loop = asyncio.get_running_loop()
        first: list[bytes] = []
        second: list[bytes] = []
        listeners = [Listener(tmp_path, loop, first.append), Listener(tmp_path, loop, second.append)]
        registered = sorted(path.name for path in tmp_path.iterdir())
        try:
            await asyncio.to_thread(ring_from_another_process, tmp_path, b"a 1 0", b"b 2 1")
            async with asyncio.timeout(5):
                while len(first) < 2 or len(second) < 2:
                    await asyncio.sleep(0.01)
        finally:
            for listener in listeners:
                listener.close()
        return first, second, registered

    first, second, registered = asyncio.run(two_listeners())

    assert first == second == [b"a 1 0", b"b 2 1"]
    assert len(registered) == 2 and all(name.endswith(f".{os.getpid()}") for name in registered)
    assert list(tmp_path.iterdir()) == []  # closing unregistered both


def test_a_process_does_not_ring_its_own_listeners(tmp_path):
    async def own() -> list[bytes]:
        got: list[bytes] = []
        listener = Listener(tmp_path, asyncio.get_running_loop(), got.append)
        try:
            Bell(tmp_path).ring(b"mine 1 0")
            await asyncio.sleep(0.2)
        finally:
            listener.close()
        return got

    assert asyncio.run(own()) == []


def test_registrations_of_gone_processes_are_removed_and_a_ring_to_them_is_harmless(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f"9.{int(gone.stdout)}"  # a dead process's port: nothing listens there
    stale.touch()
    Bell(tmp_path).ring(b"nobody 1 0")  # sent to the stale port without an error

    got = asyncio.run(listen(tmp_path, 1, lambda: ring_from_another_process(tmp_path, b"x 3 0")))

    assert got == [b"x 3 0"] and not stale.exists()


def test_a_sender_finds_a_listener_registered_right_after_it_listed(tmp_path, monkeypatch):
    sender = Bell(tmp_path)
    assert sender._peer_ports() == []  # listed while empty
    monkeypatch.setattr(bell, "RELIST_SECONDS", 0.0)
    (tmp_path / f"4242.{os.getpid() + 1}").touch()  # os.stat may show the same mtime: listed again anyway

    assert sender._peer_ports() == [4242]


def test_a_missing_directory_and_a_swamped_listener_cost_the_sender_nothing(tmp_path):
    Bell(tmp_path / "nobody-listens").ring(b"x 1 0")

    async def swamped() -> list[bytes]:
        got: list[bytes] = []
        listener = Listener(tmp_path, asyncio.get_running_loop(), got.append)
        try:
            # the loop does not read while the other process rings far more than the buffer holds
            ring_from_another_process(tmp_path, b"y" * 4000, times=2000)
            await asyncio.sleep(0.2)
        finally:
            listener.close()
        return got

    got = asyncio.run(swamped())
    assert 0 < len(got) < 2000  # some lost, none blocked the sender (it returned)


def test_registrations_are_read_from_file_names_only(tmp_path):
    for name in ("80.12", "81.13", "not-a-port", "82", "x.14"):
        (tmp_path / name).touch()

    assert sorted(registrations(tmp_path)) == [(80, 12), (81, 13)]
    assert registrations(tmp_path / "missing") == []


@pytest.mark.parametrize(
    "bad", [b"", b"\xff\xfe", b"a b", b"group not-a-number 1"], ids=["empty", "bytes", "short", "nan"]
)
def test_a_listener_survives_what_its_handler_refuses(tmp_path, bad):
    async def run() -> list[bytes]:
        got: list[bytes] = []

        def on_message(data: bytes) -> None:
            if data == bad:
                raise ValueError("not ours")
            got.append(data)

        listener = Listener(tmp_path, asyncio.get_running_loop(), on_message)
        try:
            port = listener.socket.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                for data in (bad, b"ok 1 0"):  # anyone on this machine can send to the port
                    sender.sendto(data, ("127.0.0.1", port))
            async with asyncio.timeout(5):
                while not got:
                    await asyncio.sleep(0.01)
        finally:
            listener.close()
        return got

    assert asyncio.run(run()) == [b"ok 1 0"]


def test_processes_of_one_database_share_a_bell_directory_and_others_do_not(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    same = bell_root("sqlite", {"NAME": str(tmp_path / "db.sqlite3"), "HOST": "", "PORT": ""})

    assert bell_root("sqlite", {"NAME": "db.sqlite3"}) == same  # relative or absolute, no host or empty
    assert bell_root("sqlite", {"NAME": str(tmp_path / "other.sqlite3")}) != same
    postgres = {"NAME": "millrace", "HOST": "127.0.0.1", "PORT": 5432}
    assert bell_root("postgresql", postgres) != bell_root("postgresql", {**postgres, "PORT": 5433})
