"""The execution event stream behind the dialects' WebSockets (FlowRunner, workflowdev logs).

Each dialect subclasses `ExecutionStream` with its message shapes and routes it (see
`api/<dialect>/routing.py`). Streams replay what already happened, then stream, then close
once the execution has ended and every event is sent. The ExecutionEvent table is the record: the consumer keeps a
cursor (the last event id sent) and always reads after it. A group message on the
channel layer only rings the doorbell; the consumer also polls, because channels-redis
drops messages on overflow and, in the embedded mode, workers in other processes cannot
reach the in-memory layer.

A page of the operator console authenticates with its Django session instead of a token: the
session cookie counts only without a token (a token, good or bad, decides alone) and only
when the handshake's `Origin` is the console's own (or a CSRF-trusted origin), since a browser
sends the cookie with a socket opened by any site.

Refusals accept the handshake and close at once with 4401 (no or bad token), 4403
(forbidden), 4404 (unknown execution or one of another namespace), so browsers can read
the code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from importlib import import_module
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib import auth
from django.http import parse_cookie
from django.http.request import split_domain_port, validate_host
from rest_framework import exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import TokenError

from accounts.authentication import account_for_api_token, bearer_token
from accounts.models import Account
from accounts.roles import Role
from accounts.services import API_TOKEN_PREFIX
from core.errors import Forbidden, NotFound
from executions.engine.events import group_name
from executions.models import TERMINAL_EXECUTION_STATUSES, Execution, ExecutionEvent
from executions.selectors import execution_events, execution_get

logger = logging.getLogger("millrace.ws")

CLOSE_BAD_REQUEST, CLOSE_UNAUTHORIZED, CLOSE_FORBIDDEN, CLOSE_NOT_FOUND = 4400, 4401, 4403, 4404
BATCH = 500


def authenticate(raw: str | None) -> Account | None:
    """The account of a login JWT (blacklist checked) or a personal API token; None if refused."""
    if not raw:
        if settings.MILLRACE_AUTH_REQUIRED:
            return None
        return Account.objects.filter(role=Role.ADMIN, is_active=True).order_by("date_joined").first()
    try:
        if raw.startswith(API_TOKEN_PREFIX):
            return account_for_api_token(raw)
        backend = JWTAuthentication()
        account = backend.get_user(backend.get_validated_token(raw.encode()))
    except (exceptions.AuthenticationFailed, TokenError):
        return None
    return account if isinstance(account, Account) and account.is_active else None


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


class ExecutionStream(AsyncWebsocketConsumer):
    """Replay, then live events of one execution; subclasses say how an event is shown."""

    poll_interval = 0.5

    async def connect(self) -> None:
        await self.accept()
        self.pump: asyncio.Task | None = None
        self.group: str | None = None
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        code = await database_sync_to_async(self._authorize)(query)
        if code is not None:
            await self.close(code)
            return
        if self.channel_layer is not None:
            self.group = group_name(self.execution_id)
            await self.channel_layer.group_add(self.group, self.channel_name)
        self.wake = asyncio.Event()
        self.pump = asyncio.create_task(self._stream())

    def _authorize(self, query: dict[str, list[str]]) -> int | None:
        headers = dict(self.scope.get("headers") or [])
        raw = bearer_token(headers.get(b"authorization")) or (query.get("token") or [None])[0]
        account = (not raw and session_account(headers)) or authenticate(raw)
        if account is None:
            return CLOSE_UNAUTHORIZED
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
        return None

    async def execution_event(self, message: dict[str, Any]) -> None:
        """The doorbell: something was written; the pump reads it from the table."""
        self.wake.set()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "pump", None) is not None and self.pump is not asyncio.current_task():
            self.pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.pump
        if getattr(self, "group", None) and self.channel_layer is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def _stream(self) -> None:
        try:
            while True:
                self.wake.clear()
                messages, done, more = await database_sync_to_async(self._read)()
                for message in messages:
                    await self.send(text_data=json.dumps(message))
                if done:
                    await self.close(1000)
                    return
                if more:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout=self.poll_interval)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("Execution stream %s failed", self.execution_id)
            await self.close(1011)

    def _read(self) -> tuple[list[dict[str, Any]], bool, bool]:
        """Messages after the cursor; whether the stream is done; whether more are waiting.

        The status is read before the events: when it says the execution ended, every event
        of the transaction that ended it is already visible.
        """
        execution = Execution.objects.filter(pk=self.execution_id).select_related("namespace").first()
        if execution is None:
            return [], True, False
        ended = execution.status in TERMINAL_EXECUTION_STATUSES
        events = list(execution_events(execution=execution, after_id=self.cursor)[:BATCH])
        if events:
            self.cursor = events[-1].id
        more = len(events) == BATCH
        messages = self.translate(events, execution)
        return messages, ended and not more, more

    def is_final(self, event: ExecutionEvent, execution: Execution) -> bool:
        """The status change that ended the execution for good (not one a retry undid)."""
        if event.type != "execution_status" or (event.data or {}).get("status") not in TERMINAL_EXECUTION_STATUSES:
            return False
        if execution.status not in TERMINAL_EXECUTION_STATUSES:
            return False
        return not execution.events.filter(type="execution_status", id__gt=event.id).exists()

    def translate(self, events: list[ExecutionEvent], execution: Execution) -> list[dict[str, Any]]:
        raise NotImplementedError
