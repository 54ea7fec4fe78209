"""`Agent.messages_count`, the counter cache of an agent's stored messages: emission adds, the
purge subtracts exactly what it deleted, and the migration fills it from the messages there."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import transaction
from django.utils import timezone

from agents import runtime, selectors, services
from executions.models import Message
from flows.models import Agent
from tests.agents.conftest import T0, emit
from tests.factories import AgentFactory, MessageFactory

fill_messages_count = importlib.import_module("flows.migrations.0007_agent_messages_count").fill_messages_count


def stored(agent: Agent) -> int:
    return Agent.objects.values_list("messages_count", flat=True).get(pk=agent.pk)


def live(agent: Agent) -> int:
    return selectors.agent_with_counts(agent).live_messages_count


def test_emission_and_manual_messages_add_to_the_counter(make_agent, actor):
    agent = make_agent("inbox", "Agents::ManualEventAgent")
    assert stored(agent) == 0
    services.message_create(actor=actor, agent=agent, payload={"n": 1})
    services.message_create(actor=actor, agent=agent, payload={"n": 2})
    emit(agent, [{"n": 3}, {"n": 4}, {"n": 5}])
    assert stored(agent) == live(agent) == Message.objects.filter(agent=agent).count() == 5


def test_a_run_that_emits_counts_and_a_rolled_back_emission_does_not(make_agent, httpserver):
    httpserver.expect_request("/feed").respond_with_json({"items": [{"t": "a"}, {"t": "b"}]})
    options = {"url": httpserver.url_for("/feed"), "type": "json", "extract": {"t": {"path": "items[*].t"}}}
    website = make_agent("feed", "Agents::WebsiteAgent", options, schedule="every_5m")
    assert runtime.tick(now=T0) == 1
    assert stored(website) == 2
    with pytest.raises(RuntimeError), transaction.atomic():
        runtime.emit(website, [{"t": "c"}])
        raise RuntimeError("rolled back")
    assert stored(website) == Message.objects.filter(agent=website).count() == 2


def test_the_purge_subtracts_exactly_what_it_deleted(make_agent):
    short = make_agent("short", "Agents::ManualEventAgent", keep_messages_for=60)
    kept = make_agent("kept", "Agents::ManualEventAgent")
    emit(short, [{"n": 1}, {"n": 2}, {"n": 3}], now=T0)
    emit(short, [{"n": 4}], now=T0 + timedelta(minutes=5))
    emit(kept, [{"n": 1}, {"n": 2}], now=T0)

    assert runtime.purge_expired(now=T0 + timedelta(minutes=2)) == 3
    assert (stored(short), stored(kept)) == (1, 2)
    assert runtime.purge_expired(now=T0 + timedelta(minutes=2)) == 0  # a second purge finds nothing
    assert (stored(short), stored(kept)) == (1, 2)
    assert runtime.purge_expired(now=T0 + timedelta(minutes=10)) == 1
    assert (stored(short), stored(kept)) == (0, 2)


def test_a_purge_that_lost_the_race_deletes_and_subtracts_nothing(make_agent):
    """The other purge removed the messages between this one's look-up and its lock."""
    agent = make_agent("short", "Agents::ManualEventAgent", keep_messages_for=60)
    emit(agent, [{"n": 1}, {"n": 2}], now=T0)
    later = T0 + timedelta(minutes=2)
    assert runtime.purge_expired(now=later) == 2
    assert runtime._purge_agent(agent.pk, later) == 0
    assert stored(agent) == 0
    assert runtime._purge_agent(AgentFactory.build().pk, later) == 0  # an agent deleted meanwhile


def test_expired_messages_not_purged_yet_are_not_counted(make_agent):
    agent = make_agent("short", "Agents::ManualEventAgent", keep_messages_for=60)
    now = timezone.now()
    emit(agent, [{"n": 1}, {"n": 2}], now=now - timedelta(minutes=2))  # expired a minute ago
    emit(agent, [{"n": 3}], now=now)
    assert (stored(agent), live(agent)) == (3, 1)
    assert runtime.purge_expired() == 2
    assert (stored(agent), live(agent)) == (1, 1)


def test_the_factory_counts_its_messages_as_emission_does(db):
    agent = AgentFactory()
    MessageFactory(agent=agent)
    MessageFactory(agent=agent, expires_at=timezone.now() - timedelta(seconds=1))
    assert (stored(agent), live(agent)) == (2, 1)


def test_the_migration_fills_the_counter_from_the_stored_messages(db):
    busy, quiet, other = AgentFactory(), AgentFactory(), AgentFactory()
    for _ in range(3):
        Message.objects.create(agent=busy, payload={})  # rows without the counter, as before the field
    Message.objects.create(agent=other, payload={}, expires_at=timezone.now() - timedelta(days=1))
    Agent.objects.filter(pk=quiet.pk).update(messages_count=7)  # whatever it held is replaced
    fill_messages_count(apps, None)
    assert (stored(busy), stored(quiet), stored(other)) == (3, 0, 1)  # an expired, unpurged one is stored
    assert live(other) == 0
