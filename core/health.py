"""Readiness checks: the database, the task broker and the channel layer."""

import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django_q.brokers import get_broker


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
