"""Django's PostgreSQL backend with a cheaper, faster-failing check of pooled connections.

psycopg's pool checks a borrowed connection (Django asks it to with CONN_HEALTH_CHECKS) by
sending it an empty query: a round trip for every request and every task. An idle
connection's socket has nothing to read unless the server wrote to it — and a server that
ends a session (restart, `pg_terminate_backend`, crash of its process) writes an error or
closes the socket, which makes it readable. So the check looks at the socket first, without
a round trip, and sends the query only when something arrived (which the query then reads:
an error, or a harmless notice).

A PostgreSQL restart breaks every idle connection of a pool. After each broken one psycopg
waits before checking the next (1 s, doubling): a pool with five idle connections kept its
borrower waiting past its timeout. Checking the rest in one pass (`ConnectionPool.check()`,
what psycopg advises once a disconnection is known) leaves a single wait.
"""

import select
from typing import Any

from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self) -> ConnectionPool | None:
        pool = super().pool
        if pool is not None and pool._check is ConnectionPool.check_connection:
            pool._check = _checking_all_on_failure(pool)
        return pool


def quiet(connection: Any) -> bool:
    """Nothing arrived on the idle connection's socket since it was last used."""
    try:
        poller = select.poll()
        poller.register(connection.fileno(), select.POLLIN | select.POLLPRI)
        return not poller.poll(0)
    except (OSError, ValueError):  # closed, or no socket: let the query find out
        return False


def _checking_all_on_failure(pool: ConnectionPool) -> Any:
    def check(connection: Any) -> None:
        if quiet(connection):
            return
        try:
            ConnectionPool.check_connection(connection)
        except Exception:
            pool.check()
            raise

    return check
