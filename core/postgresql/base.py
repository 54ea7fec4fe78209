"""Django's PostgreSQL backend whose pool, once a borrowed connection is found broken, checks
all its idle connections at once.

A PostgreSQL restart breaks every idle connection of a pool. psycopg's pool checks a borrowed
connection (Django asks it to with CONN_HEALTH_CHECKS) and, after each broken one, waits
before the next (1 s, doubling): a pool with five idle connections kept its borrower waiting
past its timeout. Checking the rest in one pass (`ConnectionPool.check()`, what psycopg
advises once a disconnection is known) leaves a single wait.
"""

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


def _checking_all_on_failure(pool: ConnectionPool) -> Any:
    def check(connection: Any) -> None:
        try:
            ConnectionPool.check_connection(connection)
        except Exception:
            pool.check()
            raise

    return check
