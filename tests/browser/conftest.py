"""Browser tests: Debian's chromium, driven by Playwright, against the real ASGI application.

The server is uvicorn serving `config.asgi.application` (admin, static files, WebSockets) in
a thread of the test process, so it shares the test database on both runs: on PostgreSQL
each thread opens its own connection to the test database; the embedded run's in-memory
SQLite database is reachable only through the test's own connection, which every thread
then shares (as Django's `LiveServerThread` does), so the server does all its database
work on one thread and the test runs its own there too while the server is up
(`helpers.outside_playwright`). Flows run in the engine's eager mode, and a sweeper on that thread wakes
timers, so a flow with a short `util.sleep` goes WAITING → SUCCESS while the execution
page is open.

Playwright's sync API keeps an event loop running in the test thread while it is open, which
Django would take for async code; the browser is therefore opened per module, and ORM calls
made by the test meanwhile are allowed explicitly (`DJANGO_ALLOW_ASYNC_UNSAFE`).
"""

import asyncio
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar
from unittest import mock

import pytest
import uvicorn
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.db import connections, transaction

from accounts.models import Account, Namespace
from accounts.roles import Role
from core.sqlite.base import LockingCursorWrapper
from tests.browser import helpers
from tests.conftest import ON_CI
from tests.factories import PASSWORD, AccountFactory, MembershipFactory, NamespaceFactory

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SWEEP_INTERVAL = 0.2
TIMEOUT_MS = 15_000

logger = logging.getLogger("millrace.tests.browser")
T = TypeVar("T")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test here is a `browser` test."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


# --- the server ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class OneThread:
    """ASGI middleware: every request's and consumer's sync work runs on one thread.

    Django gives each request its own thread (`ThreadSensitiveContext`) and Channels runs
    consumers' database work on yet another; on the embedded run they would all share the
    one in-memory connection at the same time. An enclosing context with a one-thread
    executor (asgiref) makes them take turns, like requests to a single-threaded server.
    """

    def __init__(self, app: Any, executor: ThreadPoolExecutor) -> None:
        self.app = app
        self.executor = executor

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        async with ThreadSensitiveContext(executor=self.executor):
            await self.app(scope, receive, send)


def _sweep_once() -> None:
    from executions.engine.sweeper import sweep

    try:
        sweep()
    except Exception:
        logger.exception("Engine sweep failed")


class ConsoleServer(uvicorn.Server):
    """uvicorn serving the console, plus the engine sweeper on the same database thread.

    Sweeps wake timers (`util.sleep`) and retries; in eager mode the woken steps run right
    there, and the events they announce reach the WebSocket consumers on the server's loop.
    """

    def __init__(self, port: int) -> None:
        from config.asgi import application

        self.url = f"http://127.0.0.1:{port}"
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="console-db")
        super().__init__(
            uvicorn.Config(
                OneThread(application, self.executor),
                host="127.0.0.1",
                port=port,
                lifespan="off",
                log_level="warning",
            )
        )
        self.thread = threading.Thread(target=self.run, name="console-server", daemon=True)

    def call(self, work: Callable[[], T]) -> T:
        """Run `work` on the server's database thread (the test's own reads and writes while it serves)."""
        return self.executor.submit(work).result()

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        sweeper = asyncio.create_task(self._sweep_forever())
        try:
            await super().serve(sockets)
        finally:
            await sweeper  # never leave a sweep half-way through a transaction

    async def _sweep_forever(self) -> None:
        async with ThreadSensitiveContext(executor=self.executor):
            while not self.should_exit:
                await asyncio.sleep(SWEEP_INTERVAL)
                await sync_to_async(_sweep_once, thread_sensitive=True)()

    def start(self) -> None:
        self.thread.start()
        for _ in range(600):
            if self.started or not self.thread.is_alive():
                break
            time.sleep(0.05)
        assert self.started, "the console server did not start"

    def stop(self) -> None:
        self.should_exit = True
        self.thread.join(timeout=30)
        self.executor.submit(connections.close_all).result()  # its connection (a shared in-memory one stays)
        self.executor.shutdown(wait=True)


@contextmanager
def shared_in_memory_database() -> Iterator[None]:
    """Every thread uses the test's own connection when the test database lives in memory.

    As Django's `LiveServerThread` does; `OneThread` keeps the server's threads from using
    it at the same time.
    """
    connection = connections["default"]
    if not (connection.vendor == "sqlite" and connection.is_in_memory_db()):
        yield
        return
    per_thread = connections._connections
    connection.inc_thread_sharing()
    connections._connections = SimpleNamespace(default=connection)
    try:
        with one_transaction_at_a_time():
            yield
    finally:
        connections._connections = per_thread
        connection.dec_thread_sharing()


@contextmanager
def one_transaction_at_a_time() -> Iterator[None]:
    """A thread entering `atomic()` on the shared connection waits until another thread's
    transaction has ended: the test's own writes (factories) and the server's (requests, the
    sweeper) would otherwise meet, and SQLite refuses a `BEGIN` inside a `BEGIN`. A statement
    outside `atomic()` waits too: the connection sends a transaction's `BEGIN` with its first
    statement (`core/sqlite`), and a thread that ran one between another's `atomic()` and that
    statement would send the `BEGIN` itself, so both did."""
    lock = threading.RLock()
    enter, leave = transaction.Atomic.__enter__, transaction.Atomic.__exit__
    run = LockingCursorWrapper._run

    def locked_run(cursor: LockingCursorWrapper, *args: Any) -> Any:
        with lock:
            return run(cursor, *args)

    def locked_enter(atomic: transaction.Atomic) -> None:
        lock.acquire()
        try:
            enter(atomic)
        except BaseException:
            lock.release()
            raise

    def locked_exit(atomic: transaction.Atomic, *exc_info: Any) -> None:
        try:
            leave(atomic, *exc_info)
        finally:
            lock.release()

    with (
        mock.patch.object(transaction.Atomic, "__enter__", locked_enter),
        mock.patch.object(transaction.Atomic, "__exit__", locked_exit),
        mock.patch.object(LockingCursorWrapper, "_run", locked_run),
    ):
        yield


@pytest.fixture
def console_server(transactional_db, settings) -> Iterator[ConsoleServer]:
    """The console on a free port of 127.0.0.1, on the test database, flows running in eager mode."""
    server = ConsoleServer(free_port())
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "127.0.0.1"]
    settings.SESSION_COOKIE_SECURE = False  # plain HTTP on loopback
    settings.CSRF_COOKIE_SECURE = False
    settings.MILLRACE_ENGINE_EAGER = True
    settings.MILLRACE_PUBLIC_URL = server.url
    with shared_in_memory_database():
        server.start()
        helpers.current_server = server
        try:
            yield server
        finally:
            helpers.current_server = None
            server.stop()


@pytest.fixture
def server_url(console_server: ConsoleServer) -> str:
    return console_server.url


# --- the browser -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's chromium, headless; Playwright never downloads a browser here."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)"
        if ON_CI:
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, server_url: str) -> Iterator[object]:
    """A page in a fresh browser context (no cookies shared between tests)."""
    context = browser.new_context(base_url=server_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def login() -> Callable[[object, Account], None]:
    """Log in through the console's login form."""

    def log_in(page, account: Account) -> None:
        page.goto("/admin/login/?next=/admin/")
        page.fill("#id_username", account.username)
        page.fill("#id_password", PASSWORD)
        helpers.click_through(page, "input[type=submit]")
        assert page.url.endswith("/admin/"), f"{account.username} could not log in"

    return log_in


# --- accounts --------------------------------------------------------------------------------


@pytest.fixture
def make_superuser(transactional_db) -> Callable[..., Account]:
    def make(username: str = "operator") -> Account:
        return AccountFactory(username=username, role=Role.ADMIN, is_superuser=True, default_namespace=None)

    return make


@pytest.fixture
def make_namespace_admin(transactional_db) -> Callable[..., Account]:
    """An account that administers the given namespaces and holds no role anywhere else."""

    def make(*namespaces: Namespace, username: str = "ns-admin") -> Account:
        account = AccountFactory(username=username, role=Role.VIEWER, default_namespace=None)
        for namespace in namespaces:
            MembershipFactory(account=account, namespace=namespace, role=Role.ADMIN)
        return account

    return make


@pytest.fixture
def make_namespace(transactional_db) -> Callable[[str], Namespace]:
    return lambda name: NamespaceFactory(name=name)
