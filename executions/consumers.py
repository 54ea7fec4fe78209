"""The execution event stream behind the dialects' WebSockets (FlowRunner, workflowdev logs).

Each dialect subclasses `ExecutionStream` with its message shapes and routes it (see
`api/<dialect>/routing.py`). Streams replay what already happened, then stream, then close
once the execution has ended and every event is sent. The ExecutionEvent table is the record:
each socket keeps a cursor (the last event id sent) and is always given what comes after it.

A socket replays on its own reads until it has caught up, then joins its execution's `Feed`,
one per execution and server process: the feed listens to the execution's rings
(`executions/listening.py`: the server's subscription to the rings on Redis, and on the
embedded default the bell from the worker processes), and each ring (or poll) makes one read
for all of its sockets, translated once per message shape. A ring only says there is something
to read; the feed also polls, because a ring can be lost (a Redis restart, a datagram a full
buffer).

The token comes in `Authorization: Bearer`, as the subprotocols `bearer, <token>` (browsers
cannot set headers on a WebSocket; the socket is accepted with `bearer`, never the token),
or as `?token=` (the logs redact it). A page of the operator console authenticates with its
Django session instead of a token: the session cookie counts only without a token (a token,
good or bad, decides alone) and only when the handshake's `Origin` is the console's own (or a
CSRF-trusted origin), since a browser sends the cookie with a socket opened by any site.

Refusals accept the handshake and close at once with 4401 (no or bad token), 4403
(forbidden), 4404 (unknown execution or one of another namespace), so browsers can read
the code.

An open socket's credential is checked again every `MILLRACE_WS_RECHECK_SECONDS` (one indexed
query per credential and server process, for all its sockets: `executions/rechecks.py`) and
the socket closes with 4401 once it no longer holds: a logged-out (blacklisted) JWT, a
password change, a revoked API token, a disabled account, an ended console session. Polling
rather than a revocation message, since the revoking process may be a worker or another
server that the in-memory channel layer cannot reach.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Hashable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from importlib import import_module
from types import SimpleNamespace
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib import auth
from django.db import connections
from django.http import parse_cookie
from django.http.request import split_domain_port, validate_host
from rest_framework import exceptions
from rest_framework_simplejwt.exceptions import TokenError

from accounts.authentication import (
    Credential,
    authenticate_raw_token,
    bearer_token,
    credential_current,
    subprotocol_bearer,
)
from accounts.models import Account
from accounts.roles import Role
from core.errors import Forbidden, NotFound
from executions.engine.events import group_name
from executions.listening import follow
from executions.models import TERMINAL_EXECUTION_STATUSES, Execution, ExecutionEvent
from executions.rechecks import Rechecks
from executions.selectors import execution_events, execution_get

logger = logging.getLogger("millrace.ws")

CLOSE_BAD_REQUEST, CLOSE_UNAUTHORIZED, CLOSE_FORBIDDEN, CLOSE_NOT_FOUND = 4400, 4401, 4403, 4404
CLOSE_INTERNAL_ERROR = 1011
BATCH = 500
#: What the streams' messages show of an execution and of an event's task run: a read many
#: times a second leaves the rest (the flow's source, inputs, timestamps) in the table. A
#: dialect needing more still gets it, in a query of its own.
STREAM_EXECUTION_FIELDS = ("id", "status", "outputs", "error")
STREAM_EVENT_FIELDS = (
    *(f.name for f in ExecutionEvent._meta.concrete_fields),
    *(f"task_run__{name}" for name in ("id", "step_id", "name", "plugin_type", "outputs")),
)


def authenticate(raw: str | None) -> tuple[Account, Credential] | None:
    """The account of a login JWT (blacklist checked) or a personal API token, and the
    credential to check again while the socket is open; None if refused."""
    if not raw:
        if settings.MILLRACE_AUTH_REQUIRED:
            return None
        account = Account.objects.filter(role=Role.ADMIN, is_active=True).order_by("date_joined").first()
        return (account, Credential("open", account.pk)) if account else None
    try:
        return authenticate_raw_token(raw)
    except (exceptions.AuthenticationFailed, TokenError):
        return None


def same_origin(headers: dict[bytes, bytes]) -> bool:
    """Whether the handshake comes from a page of this site (the CSRF rule for cookies on sockets).

    The `Origin` must name the `Host` the socket was opened on, that host must be allowed,
    or the origin must be one of `CSRF_TRUSTED_ORIGINS`.
    """
    origin = headers.get(b"origin", b"").decode("latin-1")
    host = headers.get(b"host", b"").decode("latin-1")
    if not origin or origin == "null":
        return False
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    parts = urlsplit(origin)
    domain, _ = split_domain_port(host)
    return bool(host) and parts.netloc == host and validate_host(domain, settings.ALLOWED_HOSTS)


def session_account(headers: dict[bytes, bytes]) -> Account | None:
    """The active account of the console session in the handshake's cookies, if same-origin."""
    cookies = parse_cookie(headers.get(b"cookie", b"").decode("latin-1"))
    key = cookies.get(settings.SESSION_COOKIE_NAME)
    if not key or not same_origin(headers):
        return None
    session = import_module(settings.SESSION_ENGINE).SessionStore(key)
    account = auth.get_user(SimpleNamespace(session=session))  # checks the session's auth hash
    return account if isinstance(account, Account) and account.is_active else None


def session_credential(headers: dict[bytes, bytes]) -> tuple[Account, Credential] | None:
    account = session_account(headers)
    return (account, Credential("session", account.pk)) if account is not None else None


def read_events(
    execution_id: Any, after: int, execution: Execution | None = None
) -> tuple[Execution | None, list[ExecutionEvent], bool, bool]:
    """The execution, its next events after `after`, whether the stream is done, whether more wait.

    The status is read before the events (or was, when the caller gives the `execution` it has
    just read): when it says the execution ended, every event of the transaction that ended it
    is already visible, so the stream is done once they are sent. When the events end the
    execution though the first read did not see it ended, the execution is read again, so the
    terminal event is shown with the execution it left (as final).
    """
    found = Execution.objects.filter(pk=execution_id).only(*STREAM_EXECUTION_FIELDS)
    execution = execution or found.first()
    if execution is None:
        return None, [], True, False
    ended = execution.status in TERMINAL_EXECUTION_STATUSES
    events = list(execution_events(execution=execution, after_id=after).only(*STREAM_EVENT_FIELDS)[:BATCH])
    more = len(events) == BATCH
    if not ended and any(
        event.type == "execution_status" and (event.data or {}).get("status") in TERMINAL_EXECUTION_STATUSES
        for event in events
    ):
        execution = found.first() or execution
    return execution, events, ended and not more, more


class ExecutionStream(AsyncWebsocketConsumer):
    """Replay, then live events of one execution; subclasses say how an event is shown.

    `translate` must depend only on the events, the execution and `translate_key()`: the
    feed translates once for every subscriber with the same key and cursor.
    """

    async def connect(self) -> None:
        self.pump: asyncio.Task | None = None
        self.feed: Feed | None = None
        self.closing = False
        subprotocol, self.subprotocol_token = subprotocol_bearer(self.scope.get("subprotocols") or [])
        await self.accept(subprotocol)  # `bearer` when offered (browsers drop a socket accepted without it)
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        code, first = await database_sync_to_async(self._open)(query)
        if code is not None:
            await self.close(code)
            return
        self.pump = asyncio.create_task(self._replay(first))
        Rechecks.watch(self)

    def _open(self, query: dict[str, list[str]]) -> tuple[int | None, tuple[list[dict[str, Any]], bool, bool]]:
        """The refusal's close code, or None and the first read: on one trip to the database
        thread, the execution authorised also being the status read before the first events."""
        execution = self._authorize(query)
        if isinstance(execution, int):
            return execution, ([], True, False)
        try:
            return None, self._read(execution)
        except Exception:
            logger.exception("Execution stream %s failed", self.execution_id)
            return CLOSE_INTERNAL_ERROR, ([], True, False)

    def _authorize(self, query: dict[str, list[str]]) -> Execution | int:
        """The execution the socket may follow, or the close code refusing it."""
        self.headers = headers = dict(self.scope.get("headers") or [])
        raw = bearer_token(headers.get(b"authorization")) or self.subprotocol_token or (query.get("token") or [None])[0]
        found = (not raw and session_credential(headers)) or authenticate(raw)
        if not found:
            return CLOSE_UNAUTHORIZED
        account, self.credential = found
        try:
            execution = execution_get(account=account, execution_id=self.scope["url_route"]["kwargs"]["execution_id"])
        except NotFound:
            return CLOSE_NOT_FOUND
        except Forbidden:
            return CLOSE_FORBIDDEN
        try:
            self.cursor = int((query.get("since") or ["0"])[0])
        except ValueError:
            return CLOSE_BAD_REQUEST
        self.execution_id = execution.pk
        self.options = query
        return execution

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        """Close once: the stream's end, a failure and a revoked credential may race."""
        if getattr(self, "closing", False):
            return
        self.closing = True
        await super().close(code, reason)

    async def disconnect(self, code: int) -> None:
        if getattr(self, "credential", None) is not None:
            Rechecks.forget(self)
        pump = getattr(self, "pump", None)
        if pump is not None and pump is not asyncio.current_task():
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump
        if getattr(self, "feed", None) is not None:
            self.feed.leave(self)

    def credential_key(self) -> Hashable | None:
        """Sockets with equal keys share a check; a session's depends on its cookie."""
        if self.credential.kind == "open":
            return None
        if self.credential.kind == "session":
            return (self.credential, self.headers.get(b"cookie"))
        return self.credential

    async def credential_checked(self) -> bool:
        return await Feed.reader()(self._credential_current)()

    async def revoked(self) -> None:
        """Close with 4401: the credential no longer holds."""
        if self.pump is not None:
            self.pump.cancel()
        if self.feed is not None:
            self.feed.leave(self)
            self.feed = None
        await self.close(CLOSE_UNAUTHORIZED)

    def _credential_current(self) -> bool:
        if self.credential.kind == "session":
            account = session_account(self.headers)
            return account is not None and account.pk == self.credential.account_id
        return credential_current(self.credential)

    async def _replay(self, first: tuple[list[dict[str, Any]], bool, bool]) -> None:
        """Send the first read, read on from this socket's own cursor until caught up, then
        follow the shared feed."""
        try:
            messages, done, more = first
            while True:
                for message in messages:
                    await self.send(text_data=json.dumps(message))
                if done:
                    await self.close(1000)
                    return
                if not more:
                    break
                messages, done, more = await database_sync_to_async(self._read)()
            self.feed = Feed.join(self)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("Execution stream %s failed", self.execution_id)
            await self.close(CLOSE_INTERNAL_ERROR)

    def _read(self, execution: Execution | None = None) -> tuple[list[dict[str, Any]], bool, bool]:
        """Messages after the cursor; whether the stream is done; whether more are waiting.
        `execution`: as just read, instead of reading it again."""
        execution, events, done, more = read_events(self.execution_id, self.cursor, execution)
        if execution is None:
            return [], True, False
        if events:
            self.cursor = events[-1].id
        return self.translate(events, execution), done, more

    async def deliver(self, texts: list[str], done: bool) -> None:
        """Send the feed's messages for this socket (and close after the last one)."""
        if self.closing:
            return
        for text in texts:
            await self.send(text_data=text)
        if done:
            await self.close(1000)

    def translate_key(self) -> tuple[Any, ...]:
        """What besides the events and the execution decides this socket's messages."""
        options = tuple(sorted((name, tuple(v)) for name, v in self.options.items() if name not in ("token", "since")))
        return (type(self), options)

    def is_final(self, event: ExecutionEvent, execution: Execution) -> bool:
        """The status change that ended the execution for good (not one a retry undid)."""
        if event.type != "execution_status" or (event.data or {}).get("status") not in TERMINAL_EXECUTION_STATUSES:
            return False
        if execution.status not in TERMINAL_EXECUTION_STATUSES:
            return False
        return not execution.events.filter(type="execution_status", id__gt=event.id).exists()

    def translate(self, events: list[ExecutionEvent], execution: Execution) -> list[dict[str, Any]]:
        raise NotImplementedError


class Feed:
    """One execution's live events for every socket of this process that follows it.

    The feed, not each socket, listens to the execution's rings, so a ring is one read per
    process. A ring or a poll makes one read (the status, then the
    events after the lowest cursor of its subscribers), translated once per `translate_key()`
    and cursor; each subscriber gets the events after its own cursor, which then moves to the
    last event read. A ring of an event already rung or read is ignored; one that comes while a
    read is in flight makes another read after it. Reads are `read_gap` apart at least: rings
    closer together are read at once; a ring that ends the execution is read without that
    pause, since nothing comes after it.
    """

    poll_interval = 0.5
    read_gap = 0.03  # seconds from one read to the next at least: a 40-step flow rings 40 times
    read_threads = 4  # feeds reading at once per process, each thread with its database connection (0: none)
    _open: ClassVar[dict[Any, Feed]] = {}
    _reader: ClassVar[ThreadPoolExecutor | None] = None

    def __init__(self, execution_id: Any) -> None:
        self.execution_id = execution_id
        self.subscribers: dict[ExecutionStream, None] = {}  # in joining order
        self.wake = asyncio.Event()
        self.rung = 0  # the highest event id rung or read
        self.ending = asyncio.Event()  # a ring said the execution ended: read it at once
        self.reading = False
        self.in_group = False
        self.loop = asyncio.get_running_loop()
        self.task = self.loop.create_task(self._run())
        self.listener = self.loop.create_task(follow(group_name(execution_id), self._rung, self._joined))

    @classmethod
    def join(cls, subscriber: ExecutionStream) -> Feed:
        feed = cls._open.get(subscriber.execution_id)
        if feed is None or feed.loop is not asyncio.get_running_loop() or feed.task.done():
            feed = cls._open[subscriber.execution_id] = cls(subscriber.execution_id)
        feed.subscribers[subscriber] = None
        feed.wake.set()  # its cursor may be behind the last read
        return feed

    @classmethod
    def reader(cls) -> Any:
        """How a feed reads: on the feeds' own threads, since one shared database thread would
        queue every execution's reads behind each other and behind the sockets' handshakes (a
        SQLite file in WAL mode is read while written, too); on an in-memory SQLite database
        (tests), not readable from another thread while written, on the shared database thread."""
        database = connections["default"]
        if not cls.read_threads or (database.vendor == "sqlite" and database.is_in_memory_db()):
            return partial(database_sync_to_async, thread_sensitive=True)
        if cls._reader is None:
            cls._reader = ThreadPoolExecutor(cls.read_threads, thread_name_prefix="millrace-stream")
        return partial(database_sync_to_async, thread_sensitive=False, executor=cls._reader)

    def leave(self, subscriber: ExecutionStream) -> None:
        self.subscribers.pop(subscriber, None)
        if not self.subscribers:
            self.wake.set()

    def ring(self, event_id: int) -> None:
        """The doorbell: `event_id` was committed (0 when the writer could not tell)."""
        if event_id and event_id <= self.rung:
            return
        self.rung = max(self.rung, event_id)
        self.wake.set()

    def _rung(self, event_id: int, ended: bool) -> None:
        if ended:
            self.ending.set()
        self.ring(event_id)

    def _joined(self) -> None:
        self.in_group = True
        self.wake.set()  # rings sent before joining went nowhere

    async def _run(self) -> None:
        read_at = float("-inf")
        try:
            while self.subscribers:
                if not self.ending.is_set() and (pause := read_at + self.read_gap - self.loop.time()) > 0:
                    with contextlib.suppress(TimeoutError):  # rings meanwhile are read with this one
                        async with asyncio.timeout(pause):
                            await self.ending.wait()
                    if not self.subscribers:
                        break
                self.wake.clear()
                subscribers = list(self.subscribers)
                self.reading = True
                read_at = self.loop.time()
                try:
                    texts, last, done, more = await self.reader()(self._read)(subscribers)
                except Exception:
                    logger.exception("Execution stream %s failed", self.execution_id)
                    await self._close_all(CLOSE_INTERNAL_ERROR)
                    return
                finally:
                    self.reading = False
                self.rung = max(self.rung, last)
                subscribers = [subscriber for subscriber in subscribers if subscriber in self.subscribers]  # not gone
                for subscriber in subscribers:
                    subscriber.cursor = max(subscriber.cursor, last)
                    if done:
                        self.subscribers.pop(subscriber)
                sent = await asyncio.gather(
                    *(subscriber.deliver(texts[subscriber], done) for subscriber in subscribers),
                    return_exceptions=True,
                )
                for subscriber, outcome in zip(subscribers, sent, strict=True):
                    if isinstance(outcome, Exception):
                        logger.warning("Could not send to an execution stream: %s", outcome)
                        self.subscribers.pop(subscriber, None)
                if more or not self.subscribers:
                    continue
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_interval):  # not wait_for: it may swallow a cancel
                        await self.wake.wait()
        finally:
            self._forget()

    def _forget(self) -> None:
        """Sockets joining from now on start a new feed."""
        if self._open.get(self.execution_id) is self:
            del self._open[self.execution_id]
        self.listener.cancel()

    async def _close_all(self, code: int) -> None:
        self._forget()
        subscribers, self.subscribers = list(self.subscribers), {}
        for subscriber in subscribers:
            with contextlib.suppress(Exception):
                await subscriber.close(code)

    def _read(self, subscribers: list[ExecutionStream]) -> tuple[dict[ExecutionStream, list[str]], int, bool, bool]:
        """Each subscriber's messages, the last event id read, whether the stream is done and
        whether more are waiting."""
        execution, events, done, more = read_events(
            self.execution_id, min(subscriber.cursor for subscriber in subscribers)
        )
        if execution is None:
            return {subscriber: [] for subscriber in subscribers}, 0, True, False
        translated: dict[tuple[Any, ...], list[str]] = {}
        texts = {}
        for subscriber in subscribers:
            key = (*subscriber.translate_key(), subscriber.cursor)
            if key not in translated:
                mine = [event for event in events if event.id > subscriber.cursor]
                translated[key] = [json.dumps(message) for message in subscriber.translate(mine, execution)]
            texts[subscriber] = translated[key]
        return texts, events[-1].id if events else 0, done, more
