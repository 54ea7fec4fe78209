"""One credential check per interval for every execution socket of a server process holding it.

An open execution socket must close once its credential no longer holds (a logged-out JWT, a
password change, a revoked API token, a disabled account, an ended console session). Each
socket checking its own every `MILLRACE_WS_RECHECK_SECONDS` cost a query per socket: under
`make load`, 200 sockets of one token were a hundred queries a second, the largest part of the
server's work. Here one task per event loop checks each distinct credential once per interval
and tells the sockets holding one that failed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable
from typing import ClassVar, Protocol

from django.conf import settings

logger = logging.getLogger("millrace.ws")


class Watched(Protocol):
    def credential_key(self) -> Hashable | None:
        """What the check depends on (None: nothing to check, open access)."""

    async def credential_checked(self) -> bool:
        """Whether the credential still holds (one query, off the event loop)."""

    async def revoked(self) -> None:
        """Close because the credential no longer holds."""


class Rechecks:
    """The sockets of one event loop, by credential, and the task that checks them."""

    _by_loop: ClassVar[dict[asyncio.AbstractEventLoop, Rechecks]] = {}

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float) -> None:
        self.loop = loop
        self.sockets: dict[Hashable, set[Watched]] = {}
        self.task = loop.create_task(self._run(interval))

    @classmethod
    def watch(cls, socket: Watched) -> None:
        key, interval = socket.credential_key(), settings.MILLRACE_WS_RECHECK_SECONDS
        if key is None or interval <= 0:
            return
        loop = asyncio.get_running_loop()
        rechecks = cls._by_loop.get(loop)
        if rechecks is None or rechecks.task.done():
            rechecks = cls._by_loop[loop] = cls(loop, interval)
        rechecks.sockets.setdefault(key, set()).add(socket)

    @classmethod
    def forget(cls, socket: Watched) -> None:
        rechecks = cls._by_loop.get(asyncio.get_running_loop())
        if rechecks is not None:
            rechecks.discard(socket)

    def discard(self, socket: Watched) -> None:
        key = socket.credential_key()
        sockets = self.sockets.get(key)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self.sockets[key]

    async def _run(self, interval: float) -> None:
        try:
            while self.sockets:
                await asyncio.sleep(interval)
                for sockets in list(self.sockets.values()):
                    if sockets:
                        await self._check(list(sockets))
        finally:
            if self._by_loop.get(self.loop) is self:
                del self._by_loop[self.loop]

    async def _check(self, sockets: list[Watched]) -> None:
        """Check the credential once; a failed check is tried again at the next interval."""
        try:
            current = await sockets[0].credential_checked()
        except Exception as error:
            logger.warning("Could not check an execution stream's credential: %s", error)
            return
        if current:
            return
        for socket in sockets:
            self.discard(socket)
            await socket.revoked()
