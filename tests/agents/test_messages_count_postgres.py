"""On PostgreSQL two purges racing over one agent's expired messages subtract them once: the
second waits for the agent's row lock, then finds nothing left to delete."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.db.models.signals import post_delete

from agents import runtime
from executions.models import Message
from flows.models import Agent
from tests.agents.conftest import T0, emit

pytestmark = pytest.mark.services


def waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def test_two_racing_purges_subtract_the_messages_once(make_agent):
    agent = make_agent("short", "Agents::ManualEventAgent", keep_messages_for=60)
    emit(agent, [{"n": number} for number in range(5)], now=T0)
    emit(agent, [{"n": 5}], now=T0 + timedelta(hours=1))
    later = T0 + timedelta(minutes=2)
    inside, release = threading.Event(), threading.Event()
    purged: dict[str, int] = {}

    def hold_the_first_deletion(sender, **kwargs) -> None:
        if threading.current_thread().name == "first" and not inside.is_set():
            inside.set()
            release.wait(timeout=60)

    def purge() -> None:
        try:
            purged[threading.current_thread().name] = runtime.purge_expired(now=later)
        finally:
            connections.close_all()

    post_delete.connect(hold_the_first_deletion, sender=Message, weak=False)
    first, second = threading.Thread(target=purge, name="first"), threading.Thread(target=purge, name="second")
    try:
        first.start()
        assert inside.wait(timeout=60), "the first purge never deleted"
        second.start()
        deadline = time.monotonic() + 30
        while not waiting_on_a_lock() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert waiting_on_a_lock() == 1  # the second purge waits for the agent's row lock
    finally:
        release.set()
        first.join(timeout=60)
        second.join(timeout=60)
        post_delete.disconnect(hold_the_first_deletion, sender=Message)

    assert purged == {"first": 5, "second": 0}
    assert Agent.objects.values_list("messages_count", flat=True).get(pk=agent.pk) == 1
    assert Message.objects.filter(agent=agent).count() == 1
