"""Stopping a running statement when its step is cancelled (a cancel, a flow timeout, another
step failing the execution), not only when the statement's own timeout ends it.

The statement runs on a thread of its own; the step's thread asks the context whether the step
was cancelled once a second (`ctx.is_cancelled()` reads the database, so it stays on the
step's thread) and, if so, calls the driver's way of stopping the statement on the server:
PostgreSQL's cancel request, MySQL's `KILL QUERY` over a second connection. A statement that
ends within a second is never asked about.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from connectors.plugins.sql.common import SqlFailure

POLL_SECONDS = 1.0


def cancelled() -> SqlFailure:
    return SqlFailure("The step was cancelled while its statement ran; the statement was stopped.", "CANCELLED")


class Cancel:
    """Where a driver leaves how to stop its statement, and whether that was asked."""

    def __init__(self) -> None:
        self.requested = False
        self._stop: Callable[[], None] | None = None
        self._lock = threading.Lock()

    def on(self, stop: Callable[[], None]) -> None:
        """The driver's way to stop the statement, once connected; raises if already cancelled."""
        with self._lock:
            if self.requested:
                raise cancelled()
            self._stop = stop

    def request(self) -> None:
        """Stop the statement, if it started. A stop that fails (the server gone) leaves the
        statement to its own timeout."""
        with self._lock:
            self.requested, stop = True, self._stop
        if stop is not None:
            with suppress(Exception):
                stop()


def run_cancellable(work: Callable[[Cancel], dict[str, Any]], is_cancelled: Callable[[], bool]) -> dict[str, Any]:
    """`work(cancel)` on a thread of its own, stopped through `cancel` once `is_cancelled()` is
    true; its outputs, or its exception (`cancelled()` when it was stopped so)."""
    cancel, outcome = Cancel(), {}

    def target() -> None:
        try:
            outcome["outputs"] = work(cancel)
        except BaseException as error:  # handed to the step's thread, which raises it
            outcome["error"] = error

    thread = threading.Thread(target=target, name="millrace-sql", daemon=True)
    thread.start()
    thread.join(POLL_SECONDS)
    while thread.is_alive():
        if not cancel.requested and is_cancelled():
            cancel.request()
        thread.join(POLL_SECONDS)
    if cancel.requested:
        raise cancelled()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["outputs"]
