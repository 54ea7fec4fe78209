"""The private names of libraries the code relies on are still there and still behave so.

A library is free to change what it does not document. Each test below names the library,
the private name, the code that uses it and what that code assumes, so an upgrade that
breaks the assumption fails here with that sentence rather than somewhere downstream (or
not at all: several of these would fail silently, e.g. a health check no longer replaced).
pyproject.toml caps each library below its next major version.
"""

import asyncio
import inspect
from io import BytesIO

import pytest
import redis.asyncio
import yaml
from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer
from django.contrib import admin
from django.contrib.admin import ModelAdmin
from django.db import connection, transaction
from django.db.backends.postgresql import base as django_postgresql
from django.http import HttpRequest
from django.test import RequestFactory
from jinja2 import StrictUndefined, Undefined, UndefinedError
from psycopg_pool import ConnectionPool

from accounts.models import Account
from core.postgresql.base import DatabaseWrapper as PooledDatabaseWrapper
from flows.definitions import loader


def contract(library: str, name: str, used_by: str, assumption: str) -> str:
    return f"{library} changed `{name}` (used by {used_by}, which assumes {assumption}); adapt that code"


# --- Django -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_django_connection_atomic_blocks_counts_the_open_atomic_blocks():
    why = contract(
        "Django",
        "BaseDatabaseWrapper.atomic_blocks",
        "executions/engine/writes.py:_transaction_untouched",
        "a list with one entry per open transaction.atomic() block, the outermost first",
    )
    assert isinstance(getattr(connection, "atomic_blocks", None), list), why
    outside = len(connection.atomic_blocks)
    with transaction.atomic():
        assert len(connection.atomic_blocks) == outside + 1, why
        with transaction.atomic():
            assert len(connection.atomic_blocks) == outside + 2, why
        assert len(connection.atomic_blocks) == outside + 1, why
    assert len(connection.atomic_blocks) == outside, why


def pool_settings() -> dict:
    return {
        "NAME": "contract",
        "USER": "",
        "PASSWORD": "",
        "HOST": "127.0.0.1",
        "PORT": "",
        "OPTIONS": {"pool": {"min_size": 0, "max_size": 1}},
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": True,
        "AUTOCOMMIT": True,
        "ATOMIC_REQUESTS": False,
        "TIME_ZONE": None,
        "TEST": {},
    }


def test_django_postgresql_keeps_its_pools_in_the_class_attribute_connection_pools():
    why = contract(
        "Django",
        "postgresql DatabaseWrapper._connection_pools",
        "core/forking.py",
        "a class-level dict alias → pool that `.pool` reads on every access, so a forked child "
        "replacing it with {} makes every wrapper open a pool of its own",
    )
    assert isinstance(django_postgresql.DatabaseWrapper.__dict__.get("_connection_pools"), dict), why
    assert "_connection_pools" not in PooledDatabaseWrapper.__dict__, why
    pools = django_postgresql.DatabaseWrapper._connection_pools
    alias = "library-contract"
    wrapper = PooledDatabaseWrapper(pool_settings(), alias)
    created = [wrapper.pool]  # created closed (open=False): nothing connects
    try:
        assert pools.get(alias) is created[0], why
        django_postgresql.DatabaseWrapper._connection_pools = {}  # what a forked child does
        created.append(wrapper.pool)
        assert created[1] is not created[0], why
        assert django_postgresql.DatabaseWrapper._connection_pools == {alias: created[1]}, why
    finally:
        django_postgresql.DatabaseWrapper._connection_pools = pools
        pools.pop(alias, None)
        for pool in created:
            pool.close()


def test_psycopg_pool_check_is_the_hook_django_sets_and_the_pool_calls():
    why = contract(
        "psycopg_pool / Django",
        "ConnectionPool._check",
        "core/postgresql/base.py",
        "Django passes check=ConnectionPool.check_connection when CONN_HEALTH_CHECKS is on, the pool "
        "keeps it as `_check` and calls `self._check(conn)` on every borrowed connection",
    )
    assert "check=ConnectionPool.check_connection" in inspect.getsource(django_postgresql.DatabaseWrapper), why
    assert "self._check(conn)" in inspect.getsource(ConnectionPool), why
    assert list(inspect.signature(ConnectionPool.check_connection).parameters) == ["conn"], why
    assert ConnectionPool(open=False, check=ConnectionPool.check_connection)._check is ConnectionPool.check_connection
    alias = "library-contract-check"
    wrapper = PooledDatabaseWrapper(pool_settings(), alias)
    try:
        pool = wrapper.pool
        assert isinstance(pool, ConnectionPool), why
        assert pool._check is not ConnectionPool.check_connection and callable(pool._check), why
        assert list(inspect.signature(pool._check).parameters) == ["connection"], why
    finally:
        created = django_postgresql.DatabaseWrapper._connection_pools.pop(alias, None)
        if created is not None:
            created.close()


def test_django_request_body_is_cached_in_body_and_read_from_stream():
    why = contract(
        "Django",
        "HttpRequest._body / HttpRequest._stream",
        "api/middleware.py:BodySizeLimitMiddleware",
        "`.body` caches the bytes in `_body` and reads from `_stream`, so setting both after a "
        "bounded read leaves `.body`, `.read()` and `.POST` working as if nothing was read",
    )
    request = RequestFactory().post("/x", data="a=1&b=2", content_type="application/x-www-form-urlencoded")
    assert not hasattr(request, "_body"), why
    data = request.read(100)
    request._body, request._stream = data, BytesIO(data)
    assert request.body == b"a=1&b=2" and request.POST["b"] == "2", why
    assert request.read() == b"a=1&b=2", why
    fresh = RequestFactory().post("/x", data=b"raw", content_type="text/plain")
    assert fresh.body == b"raw" and fresh._body == b"raw", why
    assert "_body" in inspect.getsource(HttpRequest.body.fget) and "_stream" in inspect.getsource(HttpRequest), why


@pytest.mark.django_db
def test_django_admin_site_registry_maps_models_to_their_admins():
    why = contract(
        "Django",
        "AdminSite._registry",
        "accounts/admin_scoping.py:OwnedRecordsDeleteMixin",
        "a dict model → ModelAdmin instance of every registered model",
    )
    registry = getattr(admin.site, "_registry", None)
    assert isinstance(registry, dict) and admin.site.is_registered(Account), why
    assert isinstance(registry[Account], ModelAdmin), why
    assert all(isinstance(model_admin, ModelAdmin) for model_admin in registry.values()), why


# --- channels and channels-redis ----------------------------------------------------------


def test_channels_in_memory_layer_groups_maps_a_group_to_its_channels():
    why = contract(
        "channels",
        "InMemoryChannelLayer.groups",
        "executions/engine/events.py:_Doorbell.ring",
        "a dict group → channels that is empty (or lacks the group) when nobody listens",
    )
    layer = InMemoryChannelLayer()

    async def scenario() -> list[bool]:
        seen = [bool(layer.groups.get("execution-1"))]
        await layer.group_add("execution-1", "listener.abc")
        seen.append(bool(layer.groups.get("execution-1")))
        await layer.group_discard("execution-1", "listener.abc")
        seen.append(bool(layer.groups.get("execution-1")))
        return seen

    assert isinstance(getattr(layer, "groups", None), dict), why
    assert asyncio.run(scenario()) == [False, True, False], why


def test_channels_redis_connection_is_a_redis_client_of_the_running_loop_under_its_prefix():
    why = contract(
        "channels-redis",
        "RedisChannelLayer.connection(index) and .prefix",
        "executions/engine/events.py (the doorbell's PUBLISH) and executions/listening.py (the subscription)",
        "`connection(0)` is a redis.asyncio client from the layer's pool for the running loop and "
        "`prefix` the layer's key prefix",
    )
    layer = RedisChannelLayer(hosts=[("127.0.0.1", 6379)], prefix="contract")

    async def scenario() -> tuple[object, object]:
        return layer.connection(0), layer.connection(0)

    first, again = asyncio.run(scenario())
    assert isinstance(first, redis.asyncio.Redis) and first is again, why
    assert callable(first.publish) and callable(first.pubsub), why
    assert layer.prefix == "contract", why


# --- Jinja2 and PyYAML --------------------------------------------------------------------


@pytest.mark.parametrize("kind", [Undefined, StrictUndefined])
def test_jinja2_undefined_fail_with_undefined_error_raises_undefined_error(kind):
    why = contract(
        "Jinja2",
        "Undefined._fail_with_undefined_error",
        "executions/engine/templating/__init__.py:_to_json_value",
        "calling it on an undefined value raises UndefinedError naming what was undefined",
    )
    undefined = kind(name="missing_variable")
    assert callable(getattr(undefined, "_fail_with_undefined_error", None)), why
    with pytest.raises(UndefinedError, match="missing_variable"):
        undefined._fail_with_undefined_error()


def test_pyyaml_reports_its_own_nesting_limit_in_words_the_loader_recognises():
    why = "PyYAML/libyaml changed how it refuses deep nesting; flows/definitions/loader.py:_is_nesting_limit"
    parser = loader._Loader("[" * 5_000 + "]" * 5_000)
    try:
        while parser.check_event():  # a parser without a limit of its own yields every event
            parser.get_event()
    except yaml.MarkedYAMLError as exc:
        assert loader._is_nesting_limit(exc), f"{why} must recognise {exc.context!r} / {exc.problem!r}"
    finally:
        parser.dispose()
    assert not loader._is_nesting_limit(yaml.scanner.ScannerError("while scanning", None, "found ']'", None))
