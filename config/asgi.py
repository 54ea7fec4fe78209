"""ASGI entry point: HTTP through Django (behind the body cap; on kept threads and with a short
GIL interval on SQLite), WebSockets through Channels."""

import asyncio
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import django

from config.startup import stop_on_setting_error

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
with stop_on_setting_error():  # a missing setting: one line on stderr and exit 2, no traceback
    django.setup(set_prefix=False)  # as get_asgi_application() does, for the handler below

# Imported once Django is set up: the routing imports models.
from asgiref.sync import SyncToAsync, ThreadSensitiveContext, sync_to_async
from channels.routing import ProtocolTypeRouter, URLRouter
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.db import connections
from django.http import HttpRequest, HttpResponseBase

from api.asgi_limits import ASGIApp, BodySizeLimit, Receive, Scope, Send
from api.flowrunner.routing import websocket_urlpatterns as flowrunner_ws
from api.workflowdev.routing import websocket_urlpatterns as workflowdev_ws
from executions.listening import serving_loop


class ThreadedASGIHandler(ASGIHandler):
    """Django's ASGI handler with its middleware and view run together on the request's thread.

    Every middleware here is synchronous, so Django's own ASGI handler went from the event loop
    to the request's thread for the middleware, back to the loop (`async_to_sync`) to resolve
    the URL, and to the thread again for the view: three hand-offs per request where WSGI has
    none. Here the whole synchronous chain — what Django's WSGI handler runs — is one
    `sync_to_async` call; the body, the signals and the response stay on the loop as before.
    """

    def __init__(self) -> None:
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        serving_loop.set(asyncio.get_running_loop())  # the request's own context: waits listen here
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


class RequestThreads:
    """Run each HTTP request's synchronous part (middleware, view, queries) on a kept thread.

    Django's handler gives every request a new thread, started before it and joined after it
    (asgiref's `ThreadSensitiveContext`): two thread starts per request, the event loop held
    while each starts, and a database connection opened and closed per request on SQLite. Here a
    request borrows an idle single-thread executor, or a new one when every one is busy (no cap
    on concurrent requests), and gives it back; its thread keeps its connection (`CONN_MAX_AGE`).
    Django's own context then finds this one and adds none. Idle executors beyond `keep` stop.
    """

    def __init__(self, app: ASGIApp, keep: int = 64) -> None:
        self.app, self.keep = app, keep
        self.idle: list[ThreadPoolExecutor] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or SyncToAsync.thread_sensitive_context.get(None) is not None:
            # an enclosing context already chose the thread (the browser tests' one database
            # thread, which shares an in-memory database): requests go there
            await self.app(scope, receive, send)
            return
        executor = self.idle.pop() if self.idle else ThreadPoolExecutor(1, thread_name_prefix="millrace-request")
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.app(scope, receive, send)
        finally:
            if len(self.idle) < self.keep:
                self.idle.append(executor)
            else:
                executor.shutdown(wait=False)


# chunked bodies are capped before Django spools them
http_app: ASGIApp = BodySizeLimit(ThreadedASGIHandler())
if connections["default"].vendor == "sqlite":
    # Kept threads keep their SQLite connections: measured through the API (bench/e2e.py),
    # 15 ms of the server's CPU per webhook execution instead of 19. On PostgreSQL, whose
    # connections come from a pool either way, they lowered webhook throughput by a fifth
    # (77 executions/s against 93, same session): there Django's thread per request stays.
    http_app = RequestThreads(http_app)
    # A request thread that holds SQLite's writer lock (`core/sqlite`) waits for the GIL behind
    # the event loop and the other request threads, and every writer of the machine waits with
    # it. Python hands the GIL over every 5 ms by default; every 0.5 ms, a webhook's start held
    # the lock 2.7-3.2 ms instead of 3.7-3.8, and webhook throughput rose from 91-92 to 99-114
    # executions/s (same session, alternating).
    sys.setswitchinterval(0.0005)

application = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": URLRouter(flowrunner_ws + workflowdev_ws),
    }
)
