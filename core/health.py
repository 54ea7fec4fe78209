"""Readiness checks (the database, the task broker, the channel layer) and what the task queue's
heartbeats say about the workers.

A django-q2 cluster's sentinel saves its `Stat` (with a timestamp) every cycle, with a
few seconds' expiry; a cluster that stopped simply disappears. Workers are reported, never a
reason for 503: a server is ready to take requests even while no worker runs.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.status import Stat


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker() -> None:
    broker = get_broker()
    if not broker.ping():
        raise RuntimeError("broker did not answer")


def check_channel_layer() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")

    async def round_trip() -> None:
        channel = await layer.new_channel()
        token = uuid.uuid4().hex
        await layer.send(channel, {"type": "ping", "token": token})
        message = await layer.receive(channel)
        if message.get("token") != token:
            raise RuntimeError("channel layer returned another message")

    async_to_sync(round_trip)()


CHECKS = {"database": check_database, "broker": check_broker, "channelLayer": check_channel_layer}


def readiness() -> tuple[bool, dict[str, str]]:
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:
            results[name] = f"error: {exc.__class__.__name__}: {exc}"
        else:
            results[name] = "ok"
    return all(value == "ok" for value in results.values()), results


@dataclass(frozen=True)
class WorkerCluster:
    cluster_id: str
    workers: int
    seen_at: datetime


def worker_clusters(*, max_age_seconds: float) -> list[WorkerCluster]:
    """The clusters whose last heartbeat is at most `max_age_seconds` old (none if the broker fails)."""
    try:
        stats = Stat.get_all(broker=get_broker())
    except Exception:
        return []
    oldest = timezone.now() - timedelta(seconds=max_age_seconds)
    return [
        WorkerCluster(cluster_id=str(stat.cluster_id), workers=len(stat.workers or []), seen_at=stat.timestamp)
        for stat in stats
        if stat.timestamp is not None and stat.timestamp >= oldest
    ]


def workers_seen() -> dict[str, object]:
    """Whether a worker cluster sent a heartbeat in the last minute, when, and its worker processes."""
    clusters = worker_clusters(max_age_seconds=60)
    last = max((cluster.seen_at for cluster in clusters), default=None)
    return {
        "seen": bool(clusters),
        "lastSeen": last.isoformat() if last else None,
        "clusters": len(clusters),
        "processes": sum(cluster.workers for cluster in clusters),
    }


def queue_depth() -> int | None:
    """Tasks waiting in the broker; None when it does not answer."""
    try:
        return int(get_broker().queue_size())
    except Exception:
        return None
