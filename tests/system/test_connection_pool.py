"""A server process holds at most MILLRACE_DB_POOL_SIZE PostgreSQL connections, however many
requests come at once (each request runs on a thread of its own under ASGI, and a connection
kept per thread once exhausted PostgreSQL's clients under load)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests
from django.db import connection, connections
from psycopg_pool import ConnectionPool

from accounts.roles import Role
from core.postgresql import base
from core.postgresql.base import quiet
from tests.conftest import token_for
from tests.factories import AccountFactory, FlowFactory
from tests.system.conftest import Server, wait_until

pytestmark = pytest.mark.services

POOL_SIZE = 3
REQUESTS = 60


def server_connections(name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [name])
        return cursor.fetchone()[0]


def test_concurrent_requests_share_the_pool_and_all_succeed(worker_env, process_logs, namespace):
    name = f"millrace-pool-{connection.settings_dict['NAME']}"[:63]
    worker_env.update(
        {
            "DATABASE_URL": f"{worker_env['DATABASE_URL']}?application_name={name}",
            "MILLRACE_DB_POOL_SIZE": str(POOL_SIZE),
        }
    )
    account = AccountFactory(role=Role.VIEWER, default_namespace=namespace)
    FlowFactory.create_batch(3, namespace=namespace, created_by=account)
    auth = {"Authorization": f"Bearer {token_for(account)}"}
    server = Server(worker_env, process_logs)
    server.start()
    seen, done = [], threading.Event()

    def sample() -> None:
        try:
            while not done.is_set():
                seen.append(server_connections(name))
                done.wait(0.02)
        finally:
            connections.close_all()  # this thread's own connection

    sampler = threading.Thread(target=sample)
    try:
        sampler.start()
        with ThreadPoolExecutor(20) as pool:
            answers = list(
                pool.map(
                    lambda _: requests.get(f"{server.url}/api/v1/flows", headers=auth, timeout=30), range(REQUESTS)
                )
            )
    finally:
        done.set()
        sampler.join()
        server.stop()

    assert [answer.status_code for answer in answers] == [200] * REQUESTS
    assert len({answer.text for answer in answers}) == 1 and answers[0].text.count('"id"') >= 3  # the same three flows
    assert 1 <= max(seen) <= POOL_SIZE


def outside_session() -> psycopg.Connection:
    params = {key: value for key, value in connection.get_connection_params().items() if key != "context"}
    return psycopg.connect(**params, autocommit=True)


def backends_alive(session: psycopg.Connection, backends: list[int]) -> bool:
    return session.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [backends]).fetchone()[0] > 0


def test_a_quiet_connection_is_lent_without_a_round_trip(transactional_db, monkeypatch):
    connections.close_all()
    connection.close_pool()
    pool = connection.pool
    pool.open(wait=True)  # its idle connections exist: a borrow takes one of them, and checks it
    looked, queries = [], []
    monkeypatch.setattr(base, "quiet", lambda lent: looked.append(quiet(lent)) or looked[-1])
    monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(queries.append))
    lent = pool.getconn()
    pool.putconn(lent)
    assert looked == [True] and queries == []


def test_a_connection_the_server_ended_is_no_longer_quiet(transactional_db):
    with outside_session() as ours, outside_session() as outside:
        assert quiet(ours)
        outside.execute("SELECT pg_terminate_backend(%s)", [ours.info.backend_pid])
        wait_until(lambda: not backends_alive(outside, [ours.info.backend_pid]), 10, "the session to end")
        assert not quiet(ours)
        with pytest.raises(psycopg.OperationalError):
            ConnectionPool.check_connection(ours)  # what the check then does finds it broken


def test_a_pool_of_broken_connections_recovers_on_the_next_borrow(transactional_db):
    """What a PostgreSQL restart leaves: every idle connection of the pool is broken."""
    connections.close_all()
    connection.close_pool()  # a new pool: its idle connections are the five below
    pool = connection.pool
    pool.open()
    borrowed = [pool.getconn() for _ in range(5)]
    backends = [borrowed_connection.info.backend_pid for borrowed_connection in borrowed]
    for borrowed_connection in borrowed:
        pool.putconn(borrowed_connection)
    lost_before = pool.get_stats().get("connections_lost", 0)
    with outside_session() as outside:
        for backend in backends:
            outside.execute("SELECT pg_terminate_backend(%s)", [backend])
        wait_until(lambda: not backends_alive(outside, backends), 10, "the sessions to end")

    with connection.cursor() as cursor:  # raised PoolTimeout while the pool re-checked one by one
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    assert pool.get_stats().get("connections_lost", 0) - lost_before >= 4  # discarded in one pass
