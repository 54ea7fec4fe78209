"""django-q2's Redis broker, taking every waiting task (up to `bulk`) per round trip.

django-q2's own Redis broker pops one task per round trip (`BLPOP`): under load its pusher
spent half its CPU on them. A dequeue here first takes up to `bulk` tasks at once
(`LPOP key count`, Redis 6.2 and later; an older server gets one task per round trip, as
before) and blocks for one (`BLPOP`) only when none waits. Tasks taken are handed to the
cluster's workers as before; like django-q2's, this broker has no acknowledgement, and the
engine's sweeper queues again what a dead cluster held.
"""

import logging
from typing import Any

from django_q.brokers.redis_broker import Redis
from django_q.conf import Conf
from redis.exceptions import ResponseError

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
