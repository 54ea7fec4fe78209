"""django-q2's brokers as the engine uses them: Redis taking every waiting task per round trip,
and the database (the embedded default) woken by a ring instead of read over and over.

django-q2's own Redis broker pops one task per round trip (`BLPOP`): under load its pusher
spent half its CPU on them. A dequeue here first takes up to `bulk` tasks at once
(`LPOP key count`, Redis 6.2 and later; an older server gets one task per round trip, as
before) and blocks for one (`BLPOP`) only when none waits. Tasks taken are handed to the
cluster's workers as before; like django-q2's, this broker has no acknowledgement, and the
engine's sweeper queues again what a dead cluster held.

django-q2's ORM broker has its pusher look for queued rows every `poll` seconds: a task waits
half of that on average before it starts, and an idle cluster reads the table many times a
second. `BellORM` rings the bell of this database's queue (`core/bell.py`) when it writes a
task, once it commits, and its pusher, finding none, waits for a ring up to `poll` seconds (the
row stays the record: a lost ring costs at most that wait). On SQLite every write waits for the
one writer, so the queue writes as little as it can: a task written inside a transaction joins
it (`executions/engine/dispatch.py`), and the pusher deletes the rows it takes in the
statement that takes them, where django-q2's locks them and its monitor deletes each one
after its task ran: two writes per task fewer. Like the Redis broker's, a task taken is then
not acknowledged, and the sweeper queues again what a dead cluster held.
"""

import logging
import os
from functools import partial
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone
from django_q.brokers.orm import ORM
from django_q.brokers.redis_broker import Redis
from django_q.conf import Conf
from django_q.models import OrmQ
from redis.exceptions import ResponseError

from core.bell import Bell, Listener, database_bell

logger = logging.getLogger("millrace.engine")


class BulkRedis(Redis):
    counted_pop = True  # until the server refuses LPOP with a count (Redis before 6.2)

    def dequeue(self) -> list[tuple[None, Any]] | None:
        if self.counted_pop:
            try:
                waiting = self.connection.lpop(self.list_key, max(Conf.BULK, 1))
            except ResponseError:
                logger.warning("This Redis cannot pop several tasks at once (6.2 and later can): one per round trip")
                self.counted_pop = False
                waiting = None
            if waiting:
                return [(None, task) for task in waiting]
        task = self.connection.blpop(self.list_key, 1)
        if task:
            return [(None, task[1])]
        return None


class BellORM(ORM):
    """The ORM broker, rung when a task is written and waiting for the ring when none is queued."""

    def __init__(self, list_key: str | None = None) -> None:
        super().__init__(list_key=list_key)
        self._bell: Bell | None = None
        self._bell_found = False
        self._listener: Listener | None = None

    def bell(self) -> Bell | None:
        if not self._bell_found:
            self._bell, self._bell_found = database_bell(f"queue-{self.list_key}"), True
        return self._bell

    def enqueue(self, task: Any) -> Any:
        package = super().enqueue(task)
        if (bell := self.bell()) is not None:
            # after the commit (at once outside a transaction): a pusher rung earlier would not
            # see the row yet and would wait a whole `poll` for the next ring
            transaction.on_commit(partial(bell.ring, b"1"), using=Conf.ORM)
        return package

    def acknowledge(self, task_id: Any) -> None:
        """Nothing left to do: the row went when the task was taken (`_taken`)."""

    def fail(self, task_id: Any) -> None:
        """As `acknowledge`: a task that could not be read is gone already."""

    def dequeue(self) -> list[tuple[Any, Any]] | None:
        listener = self._port()
        if listener is not None:
            listener.wait(0)  # rings of tasks this read finds anyway
        if listener is None:
            return super().dequeue()
        tasks = self._taken()
        if not tasks:
            listener.wait(Conf.POLL)
        return tasks or None

    def _taken(self) -> list[tuple[Any, Any]]:
        """Take up to `bulk` due tasks, oldest first, in one statement that deletes their rows and
        returns them (a row another cluster took first is gone, so not returned), without
        django-q2's sleep when there are none. On SQLite the writer lock is held for that one
        statement: deleting row by row through the ORM held it for milliseconds per batch."""
        self.get_connection()  # closes a stale connection, as django-q2's own reads do
        connection = connections[Conf.ORM or DEFAULT_DB_ALIAS]
        table, pk, key, lock, payload = map(
            connection.ops.quote_name, (OrmQ._meta.db_table, "id", "key", "lock", "payload")
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE {pk} IN (SELECT {pk} FROM {table} WHERE {key} = %s AND {lock} < %s"
                f" ORDER BY {pk} LIMIT %s) RETURNING {pk}, {payload}",
                [self.list_key, connection.ops.adapt_datetimefield_value(timezone.now()), max(Conf.BULK, 1)],
            )
            return sorted(cursor.fetchall())

    def close(self) -> None:
        """Unregister the pusher's port (it is also gone with its process)."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def _port(self) -> Listener | None:
        """The pusher's port, bound in the process that dequeues (the cluster forks it)."""
        if self._listener is not None and self._listener.path.name.endswith(f".{os.getpid()}"):
            return self._listener
        bell = self.bell()
        if bell is None:
            return None
        try:
            self._listener = Listener(bell.directory)
        except OSError as error:
            logger.warning("No bell for the queue (%s): the pusher reads it every %s s", error, Conf.POLL)
            self._bell_found, self._bell = True, None
            return None
        return self._listener
