"""The task queue as the console shows it: queue depth and the django-q2 clusters alive now.

A cluster's sentinel saves its `Stat` every cycle with a 3-second expiry, so a cluster that
`Stat.get_all` returns was alive a moment ago; a dead worker machine simply disappears.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone
from django_q.brokers import get_broker
from django_q.status import Stat


@dataclass(frozen=True)
class Cluster:
    cluster_id: str
    host: str
    status: str
    workers: int
    uptime_seconds: float
    seen_at: datetime


@dataclass(frozen=True)
class QueueStatus:
    broker: str
    depth: int | None
    clusters: list[Cluster] = field(default_factory=list)
    error: str = ""

    @property
    def workers(self) -> int:
        return sum(cluster.workers for cluster in self.clusters)


def queue_status(broker: Any = None) -> QueueStatus:
    """Depth of this installation's queue (or `broker`'s) and its live clusters.

    An unreachable broker is reported, not raised: the dashboard must still render.
    """
    try:
        broker = broker or get_broker()
        depth = broker.queue_size()
        stats = Stat.get_all(broker=broker)
    except Exception as exc:
        return QueueStatus(broker="unreachable", depth=None, error=f"{exc.__class__.__name__}: {exc}")
    now = timezone.now()
    clusters = [
        Cluster(
            cluster_id=str(stat.cluster_id),
            host=stat.host,
            status=stat.status,
            workers=len(stat.workers),
            uptime_seconds=(now - stat.tob).total_seconds() if stat.tob else 0.0,
            seen_at=stat.timestamp,
        )
        for stat in stats
    ]
    return QueueStatus(broker=broker.info(), depth=depth, clusters=sorted(clusters, key=lambda c: c.host))
