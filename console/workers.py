"""The task queue as the console shows it: queue depth, the age of the task waiting longest,
the django-q2 clusters alive now, and a red/amber/green reading of each.

A cluster's sentinel saves its `Stat` every cycle with a 3-second expiry, so a cluster that
`Stat.get_all` returns was alive a moment ago; a dead worker machine simply disappears.
"Seen" counts the clusters whose heartbeat is under a minute old, as `/readyz` does.
The task waiting longest is the head of the broker's list (Redis) or its oldest unlocked row
(the ORM broker); django-q2 stamps every task with the time it was queued (`started`).
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django_q.brokers import get_broker
from django_q.brokers.orm import ORM
from django_q.brokers.redis_broker import Redis
from django_q.signing import SignedPackage
from django_q.status import Stat

SEEN_WITHIN = timedelta(minutes=1)
#: Queue readings turn amber, then red, past these: tasks waiting, and the longest wait.
DEPTH_AMBER, DEPTH_RED = 100, 1000
WAIT_AMBER, WAIT_RED = timedelta(seconds=30), timedelta(minutes=5)
GREEN, AMBER, RED = "green", "amber", "red"


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
    oldest_queued_at: datetime | None = None
    read_at: datetime | None = None

    @property
    def workers(self) -> int:
        return sum(cluster.workers for cluster in self.clusters)

    @property
    def seen(self) -> list[Cluster]:
        """The clusters whose heartbeat is under a minute old."""
        if self.read_at is None:
            return []
        return [
            cluster for cluster in self.clusters if cluster.seen_at and cluster.seen_at >= self.read_at - SEEN_WITHIN
        ]

    @property
    def oldest_wait(self) -> timedelta | None:
        if self.oldest_queued_at is None or self.read_at is None:
            return None
        return max(self.read_at - self.oldest_queued_at, timedelta(0))

    @property
    def health(self) -> list["Reading"]:
        """Workers, queue depth and the longest wait, each green, amber or red."""
        seen = self.seen
        processes = sum(cluster.workers for cluster in seen)
        workers = Reading(
            "workers",
            "Workers seen in the last minute",
            f"{processes} in {len(seen)} cluster{'s' if len(seen) != 1 else ''}" if seen else "none",
            GREEN if processes else RED,
        )
        if self.depth is None:
            depth = Reading("depth", "Queue depth", "broker unreachable", RED)
        else:
            level = RED if self.depth >= DEPTH_RED else AMBER if self.depth >= DEPTH_AMBER else GREEN
            depth = Reading("depth", "Queue depth", f"{self.depth} waiting", level)
        wait = self.oldest_wait
        if wait is None:  # none waits, or the broker could not say: then as its depth reads
            value = "none waiting" if self.depth == 0 else "unknown"
            oldest = Reading("oldest", "Oldest queued task", value, depth.level)
        else:
            level = RED if wait >= WAIT_RED else AMBER if wait >= WAIT_AMBER else GREEN
            oldest = Reading("oldest", "Oldest queued task", f"waiting {_age(wait)}", level)
        return [workers, depth, oldest]

    @property
    def thresholds(self) -> str:
        return THRESHOLDS


THRESHOLDS = (
    f"Amber from {DEPTH_AMBER} tasks waiting or a wait of {int(WAIT_AMBER.total_seconds())} s; red from "
    f"{DEPTH_RED} tasks, a wait of {int(WAIT_RED.total_seconds() // 60)} min, no answer from the broker, "
    "or no worker seen in the last minute."
)


@dataclass(frozen=True)
class Reading:
    key: str
    label: str
    value: str
    level: str  # GREEN, AMBER or RED

    @property
    def level_text(self) -> str:
        return {GREEN: "OK", AMBER: "Slow", RED: "Problem"}[self.level]


def _age(wait: timedelta) -> str:
    seconds = int(wait.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _oldest_or_none(broker: Any) -> datetime | None:
    """A task that cannot be read (signed with another key, say) leaves the age unknown, not the queue."""
    try:
        return oldest_queued_at(broker)
    except Exception:
        return None


def oldest_queued_at(broker: Any) -> datetime | None:
    """When the task waiting longest was queued; None when none waits or the broker cannot say."""
    if isinstance(broker, ORM):
        rows = broker.get_connection().filter(key=broker.list_key, lock__lte=timezone.now()).order_by("id")
        payload = rows.values_list("payload", flat=True).first()
    elif isinstance(broker, Redis):
        payload = broker.connection.lindex(broker.list_key, 0)
    else:
        return None
    if payload is None:
        return None
    queued = SignedPackage.loads(payload).get("started")
    return queued if isinstance(queued, datetime) else None


def queue_status(broker: Any = None) -> QueueStatus:
    """Depth of this installation's queue (or `broker`'s) and its live clusters.

    An unreachable broker is reported, not raised: the dashboard must still render.
    """
    try:
        broker = broker or get_broker()
        depth = broker.queue_size()
        stats = Stat.get_all(broker=broker)
        oldest = _oldest_or_none(broker) if depth else None
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
    return QueueStatus(
        broker=broker.info(),
        depth=depth,
        clusters=sorted(clusters, key=lambda c: c.host),
        oldest_queued_at=oldest,
        read_at=now,
    )
