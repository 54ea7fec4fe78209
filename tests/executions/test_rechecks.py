"""Open execution sockets' credentials are checked once per interval and credential, whatever the
number of sockets holding it; a failed credential closes all of them and only them."""

import asyncio

import pytest

from executions.rechecks import Rechecks

INTERVAL = 0.05


@pytest.fixture(autouse=True)
def quick_rechecks(settings):
    settings.MILLRACE_WS_RECHECK_SECONDS = INTERVAL


class Socket:
    def __init__(self, key, checks: dict, holds: dict) -> None:
        self.key, self.checks, self.holds = key, checks, holds
        self.closed = False

    def credential_key(self):
        return self.key

    async def credential_checked(self) -> bool:
        self.checks[self.key] = self.checks.get(self.key, 0) + 1
        holds = self.holds.get(self.key, True)
        if isinstance(holds, Exception):
            raise holds
        return holds

    async def revoked(self) -> None:
        self.closed = True


def test_sockets_of_one_credential_share_one_check_per_interval():
    checks: dict = {}

    async def run() -> None:
        sockets = [Socket("token-a", checks, {}) for _ in range(50)] + [Socket("token-b", checks, {})]
        for socket in sockets:
            Rechecks.watch(socket)
        await asyncio.sleep(INTERVAL * 4.5)
        for socket in sockets:
            Rechecks.forget(socket)

    asyncio.run(run())
    assert 2 <= checks["token-a"] <= 6 and 2 <= checks["token-b"] <= 6  # not 50 a time


def test_a_credential_that_no_longer_holds_closes_its_sockets_only():
    checks: dict = {}
    holds = {"revoked": False}

    async def run() -> tuple[list[Socket], list[Socket], int]:
        gone = [Socket("revoked", checks, holds) for _ in range(3)]
        kept = [Socket("current", checks, holds) for _ in range(2)]
        for socket in gone + kept:
            Rechecks.watch(socket)
        await asyncio.sleep(INTERVAL * 4.5)
        rechecks = Rechecks._by_loop[asyncio.get_running_loop()]
        left = sum(len(sockets) for sockets in rechecks.sockets.values())
        for socket in kept:
            Rechecks.forget(socket)
        await asyncio.sleep(INTERVAL * 2)
        return gone, kept, left

    gone, kept, left = asyncio.run(run())
    assert all(socket.closed for socket in gone) and not any(socket.closed for socket in kept)
    assert checks["revoked"] == 1 and left == 2  # checked once, then no longer watched


def test_a_check_that_fails_is_tried_again_and_the_sockets_stay_open():
    checks: dict = {}
    holds = {"flaky": RuntimeError("database gone")}

    async def run() -> Socket:
        socket = Socket("flaky", checks, holds)
        Rechecks.watch(socket)
        await asyncio.sleep(INTERVAL * 3.5)
        Rechecks.forget(socket)
        return socket

    socket = asyncio.run(run())
    assert not socket.closed and checks["flaky"] >= 2


def test_open_access_is_not_checked_and_the_task_ends_with_the_last_socket():
    checks: dict = {}

    async def run() -> tuple[bool, bool]:
        Rechecks.watch(Socket(None, checks, {}))
        unwatched = asyncio.get_running_loop() not in Rechecks._by_loop
        socket = Socket("token", checks, {})
        Rechecks.watch(socket)
        rechecks = Rechecks._by_loop[asyncio.get_running_loop()]
        Rechecks.forget(socket)
        await asyncio.sleep(INTERVAL * 2)
        return unwatched, rechecks.task.done()

    assert asyncio.run(run()) == (True, True)
    assert checks == {}
