"""Forked processes (django-q2's sentinel and workers) start without their parent's connections.

A forked child shares its parent's sockets: using, resetting or returning an inherited
PostgreSQL connection would talk over the parent's session. django-q2 closes connections
before it forks, but with a pool "closing" returns them to the pool, which the child inherits
open, without the threads that fill it. So a child forgets the inherited pools and connections
(unclosed: they are the parent's) and opens its own on first use.
"""

import os

from django.db import connections
from django.db.backends.postgresql.base import DatabaseWrapper

_inherited: list[object] = []  # kept referenced: collecting them could act on the parent's sessions


def forget_inherited_connections() -> None:
    _inherited.extend(DatabaseWrapper._connection_pools.values())
    DatabaseWrapper._connection_pools = {}
    for wrapper in connections.all(initialized_only=True):
        if wrapper.connection is not None:
            _inherited.append(wrapper.connection)
            wrapper.connection = None  # connect() resets the rest of the wrapper's state


def register() -> None:
    os.register_at_fork(after_in_child=forget_inherited_connections)
