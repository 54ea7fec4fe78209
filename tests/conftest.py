"""Shared fixtures: accounts of each role, API clients authenticated with a login token."""

import os
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings as django_settings
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import SlidingToken

from accounts.models import Account, Namespace
from accounts.roles import Role
from tests.factories import AccountFactory, NamespaceFactory

ON_CI = os.environ.get("CI", "").lower() == "true"


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`services` tests run on PostgreSQL + Redis (DATABASE_URL, REDIS_URL) and skip on the embedded run.

    Under CI=true a PostgreSQL run whose services are unreachable fails instead of skipping.
    """
    database, redis = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    on_services = database.startswith("postgres") and bool(redis)
    if on_services and _reachable(database, 5432) and _reachable(redis, 6379):
        return
    if on_services and ON_CI:
        raise pytest.UsageError("CI=true: PostgreSQL or Redis is unreachable")
    for item in items:
        if "services" in item.keywords:
            item.add_marker(pytest.mark.skip(reason="runs on PostgreSQL + Redis (DATABASE_URL, REDIS_URL)"))


@pytest.fixture
def namespace(db) -> Namespace:
    return NamespaceFactory(name="production")


@pytest.fixture
def other_namespace(db) -> Namespace:
    return NamespaceFactory(name="elsewhere")


@pytest.fixture
def make_account(namespace: Namespace) -> Callable[..., Account]:
    default = namespace

    def make(role: str = Role.VIEWER, namespace: Namespace | None = None, **kwargs) -> Account:
        return AccountFactory(role=role, default_namespace=namespace or default, **kwargs)

    return make


@pytest.fixture
def admin_account(make_account) -> Account:
    """A global admin."""
    return make_account(Role.ADMIN, username="root")


def token_for(account: Account) -> str:
    return str(SlidingToken.for_user(account))


@pytest.fixture
def client_for() -> Callable[[Account | None], APIClient]:
    """An APIClient with a login token for the account (anonymous for None)."""

    def make(account: Account | None) -> APIClient:
        client = APIClient()
        if account is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(account)}")
        return client

    return make


@pytest.fixture(autouse=True)
def fast_password_hasher(settings) -> None:
    """PBKDF2's deliberate slowness protects passwords, not tests."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def credentials_key(settings) -> None:
    """Tests run with DEBUG off, where the vault refuses to derive a key: give it one."""
    if not settings.MILLRACE_CREDENTIALS_KEY:
        settings.MILLRACE_CREDENTIALS_KEY = "K7gNU3sdo-OL0wNhqoVWhr3g6s1xYv72ol_pe_Unols="


@pytest.fixture(scope="session", autouse=True)
def end_stray_database_sessions(django_db_setup, django_db_blocker):
    """Threads of async tests (database_sync_to_async) and killed system-test processes can
    leave sessions on the test database; end them so PostgreSQL lets the database be dropped."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def fresh_redis_channel_layer() -> Iterator[None]:
    """channels-redis binds its receive lock to the event loop of the test that first received;
    each test has a loop of its own, so each gets a layer of its own (the in-memory layer is
    kept: a browser test's server thread listens on it across tests)."""
    yield
    from channels.layers import InMemoryChannelLayer, channel_layers

    for alias, layer in list(channel_layers.backends.items()):
        if not isinstance(layer, InMemoryChannelLayer):
            del channel_layers.backends[alias]


@pytest.fixture(scope="session")
def file_storage_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Stored files go to a directory of this test session, never to the checkout's var/."""
    root = tmp_path_factory.mktemp("storage")
    storages = {**django_settings.STORAGES}
    if storages["millrace"]["BACKEND"].endswith("FileSystemStorage"):
        options = {**storages["millrace"]["OPTIONS"], "location": str(root)}
        storages["millrace"] = {**storages["millrace"], "OPTIONS": options}
    with override_settings(STORAGES=storages):
        yield root


@pytest.fixture(autouse=True)
def file_storage(file_storage_root: Path) -> Iterator[Path]:
    """Each test starts with no stored file: what one test stored is not another's namespace file."""
    yield file_storage_root
    if any(file_storage_root.iterdir()):
        shutil.rmtree(file_storage_root)
        file_storage_root.mkdir()
