"""The ASGI entry point keeps request threads on SQLite: a request's synchronous part runs on a thread an
earlier request used (with its database connection) instead of one started for it, requests at
the same time each get their own, and WebSockets are left to Channels."""

import asyncio
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import httpx
import pytest
from asgiref.sync import AsyncToSync, ThreadSensitiveContext, sync_to_async
from django.db import connection

from config.asgi import RequestThreads, application


class SyncApp:
    """An ASGI app whose request runs `work` on the request's thread, as Django's handler does."""

    def __init__(self) -> None:
        self.threads: list[int] = []
        self.release = asyncio.Event()
        self.hold = False

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            await sync_to_async(lambda: self.threads.append(threading.get_ident()))()
            if self.hold:
                await self.release.wait()
        else:
            self.threads.append(-1)  # not an HTTP request: no thread borrowed


def test_requests_one_after_another_run_on_the_same_kept_thread():
    app = SyncApp()
    threads = RequestThreads(app)

    async def run() -> None:
        for _ in range(3):
            await threads({"type": "http"}, None, None)

    asyncio.run(run())
    assert len(app.threads) == 3 and len(set(app.threads)) == 1
    assert len(threads.idle) == 1 and threading.get_ident() not in app.threads


def test_requests_inside_an_enclosing_thread_context_run_on_its_thread():
    """The browser tests serve the console on one database thread (an in-memory database that
    every thread shares): a kept thread of its own would let a request meet the sweeper there."""
    app = SyncApp()
    threads = RequestThreads(app)
    executor = ThreadPoolExecutor(1)
    chosen = executor.submit(threading.get_ident).result()

    async def run() -> None:
        async with ThreadSensitiveContext(executor=executor):
            for _ in range(2):
                await threads({"type": "http"}, None, None)

    asyncio.run(run())
    executor.shutdown()
    assert app.threads == [chosen, chosen] and threads.idle == []


def test_requests_at_the_same_time_each_get_a_thread_and_idle_ones_beyond_keep_stop():
    app = SyncApp()
    threads = RequestThreads(app, keep=2)

    async def run() -> None:
        app.hold = True
        running = [asyncio.create_task(threads({"type": "http"}, None, None)) for _ in range(4)]
        while len(app.threads) < 4:
            await asyncio.sleep(0.01)
        app.release.set()
        await asyncio.gather(*running)

    asyncio.run(run())
    assert len(set(app.threads)) == 4  # none waited for another's thread
    assert len(threads.idle) == 2


def test_other_scopes_pass_through_without_a_thread():
    app = SyncApp()
    threads = RequestThreads(app)
    asyncio.run(threads({"type": "websocket"}, None, None))

    assert app.threads == [-1] and threads.idle == []


def test_the_served_application_answers_on_kept_threads(transactional_db):
    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return [(await client.get("/healthz")).status_code for _ in range(3)]

    http = application.application_mapping["http"]
    if connection.vendor != "sqlite":  # PostgreSQL: Django's thread per request (config/asgi.py)
        assert not isinstance(http, RequestThreads)
        assert asyncio.run(run()) == [200, 200, 200]
        return
    before = len(http.idle)
    assert asyncio.run(run()) == [200, 200, 200]
    assert isinstance(http, RequestThreads) and len(http.idle) == max(before, 1)


def test_middleware_and_view_run_on_the_request_s_thread_without_going_back_to_the_loop(transactional_db):
    """Django's own ASGI handler went thread → loop (`async_to_sync`) → thread once per request
    with synchronous middleware; the served handler runs the whole chain in one hand-off."""
    calls = []
    real = AsyncToSync.__call__

    def counted(self, *args, **kwargs):
        calls.append(threading.get_ident())
        return real(self, *args, **kwargs)

    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return [(await client.get(path)).status_code for path in ("/healthz", "/api/v1/nowhere")]

    with mock.patch.object(AsyncToSync, "__call__", counted):
        statuses = asyncio.run(run())
    assert statuses == [200, 404]
    assert calls == []


def test_on_sqlite_the_server_hands_the_gil_over_every_half_millisecond():
    """A request thread holding SQLite's writer lock gets the GIL back sooner; elsewhere Python's
    default (5 ms) stays."""
    expected = 0.0005 if connection.vendor == "sqlite" else 0.005
    assert sys.getswitchinterval() == pytest.approx(expected)
