"""Millrace settings, read from the environment.

Without `DATABASE_URL`/`REDIS_URL` Millrace runs embedded: SQLite in WAL mode, the
django-q2 ORM broker and the in-memory channel layer. With them it runs on
PostgreSQL and Redis with any number of server and worker processes.

A missing or invalid setting raises `SettingError`: the start stops with one line naming it.
"""

from config.settings.base import *  # noqa: F403
from config.settings.runtime import *  # noqa: F403
