"""Agents run by real django-q2 workers (`manage.py worker`) on PostgreSQL + Redis.

The workers' own schedules drive the chain (the every-minute agent tick the worker registers),
deliveries are django-q2 tasks racing over separate processes, and the expiry job runs in a
worker too. Nothing here runs an agent in the test process.
"""

import json
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import connection
from django_q.models import Schedule
from django_q.tasks import async_task
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from accounts.roles import Role
from agents import services
from executions.models import AgentLog, Message
from flows.models import Agent, AgentLink
from tests.factories import AccountFactory
from tests.system.conftest import wait_until

pytestmark = pytest.mark.services

ITEMS = [{"title": "alpha", "score": 5}, {"title": "beta", "score": 1}]
THREADS, PER_THREAD = 4, 10
#: The first django-q2 scheduler pass comes about 30 s after a cluster starts.
SCHEDULED_WAIT = 120


@pytest.fixture
def editor(transactional_db, namespace):
    return AccountFactory(role=Role.EDITOR, default_namespace=namespace)


@pytest.fixture
def receiving_server() -> Iterator[HTTPServer]:
    """A second local server: where the PostAgent delivers."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    server.stop()


def make(editor, namespace, name: str, type: str, options: dict | None = None, *, sources=(), **fields) -> Agent:
    return services.agent_create(
        actor=editor, namespace=namespace, name=name, type=type, options=options or {},
        source_ids=[str(source.pk) for source in sources], **fields,
    )  # fmt: skip


def payloads(agent: Agent) -> list[dict]:
    return list(Message.objects.filter(agent=agent).order_by("id").values_list("payload", flat=True))


def test_a_scheduled_fetch_trigger_post_chain(
    workers, editor, namespace, httpserver: HTTPServer, receiving_server: HTTPServer
) -> None:
    feed = {"data": {"items": list(ITEMS)}}
    httpserver.expect_request("/feed").respond_with_handler(
        lambda request: Response(json.dumps(feed), content_type="application/json")
    )
    posted: list[dict] = []

    def receive(request: Request) -> Response:
        posted.append(request.get_json())
        return Response('{"ok": true}', content_type="application/json")

    receiving_server.expect_request("/hook", method="POST").respond_with_handler(receive)
    website = make(
        editor, namespace, "feed", "Agents::WebsiteAgent",
        {"url": httpserver.url_for("/feed"), "type": "json", "mode": "on_change",
         "extract": {"title": {"path": "data.items[*].title"}, "score": {"path": "data.items[*].score"}}},
        schedule="every_1m", keep_messages_for=3600,
    )  # fmt: skip
    trigger = make(
        editor, namespace, "hot", "Agents::TriggerAgent",
        {"rules": [{"type": "field>value", "path": "score", "value": "3"}], "keep_event": True,
         "message": "Hot: {{ message.title }}"},
        sources=(website,),
    )  # fmt: skip
    post = make(
        editor, namespace, "notify", "Agents::PostAgent",
        {"post_url": receiving_server.url_for("/hook"), "payload": {"via": "{{ agent.name }}"}},
        sources=(trigger,),
    )  # fmt: skip

    workers.start()
    wait_until(lambda: len(posted) == 1, SCHEDULED_WAIT, "the scheduled run to reach the second server")

    # The worker registered the tick and the expiry job; the tick ran the website agent.
    schedules = dict(Schedule.objects.values_list("func", "schedule_type"))
    assert schedules["agents.runtime.tick"] == Schedule.MINUTES
    assert schedules["agents.runtime.purge_expired"] == Schedule.MINUTES
    website.refresh_from_db()
    assert website.last_run_at is not None and website.last_error == ""
    assert posted == [{"title": "alpha", "score": 5, "message": "Hot: alpha", "via": "notify"}]
    # Messages: every row from the feed, the one hot item; the website's expire after an hour.
    assert payloads(website) == ITEMS
    assert payloads(trigger) == [{"title": "alpha", "score": 5, "message": "Hot: alpha"}]
    assert {m.expires_at for m in Message.objects.filter(agent=website)} == {website.last_run_at + timedelta(hours=1)}
    assert Message.objects.get(agent=trigger).expires_at is None
    # Cursors: each receiver has seen exactly what its source emitted.
    last_website = Message.objects.filter(agent=website).latest("id")
    assert AgentLink.objects.get(source=website, receiver=trigger).cursor == last_website.id
    assert AgentLink.objects.get(source=trigger, receiver=post).cursor == Message.objects.get(agent=trigger).id
    # Memory: the digests of what was emitted, kept for the next run.
    assert website.memory["last_status"] == 200 and len(website.memory["seen"]) == 2
    # Logs: what each run did, a received message linked from the receiver's line.
    assert list(AgentLog.objects.filter(agent=website).order_by("id").values_list("level", "text"))[-1] == (
        "info", "Ran; emitted 2 messages."
    )  # fmt: skip
    assert AgentLog.objects.filter(agent=trigger, inbound_message__isnull=False).count() == 2
    assert AgentLog.objects.filter(agent=post, level="error").count() == 0

    # The next run (run now, queued to the workers) emits only what is new.
    feed["data"]["items"].append({"title": "gamma", "score": 9})
    services.agent_run(actor=editor, agent=website)
    wait_until(lambda: len(posted) == 2, 60, "the second run to reach the second server")
    assert [p["title"] for p in posted] == ["alpha", "gamma"]
    assert [p["title"] for p in payloads(website)] == ["alpha", "beta", "gamma"]
    website.refresh_from_db()
    assert len(website.memory["seen"]) == 3
    assert (
        AgentLink.objects.get(source=website, receiver=trigger).cursor
        == Message.objects.filter(agent=website).latest("id").id
    )

    # Expiry: the job, run by a worker as if two hours had passed, removes only the website's messages.
    async_task("agents.runtime.purge_expired", (website.last_run_at + timedelta(hours=2)).isoformat())
    wait_until(lambda: not Message.objects.filter(agent=website).exists(), 60, "the expiry job")
    assert [p["title"] for p in payloads(trigger)] == ["alpha", "gamma"]
    assert Message.objects.filter(agent=post).count() == 0  # a PostAgent emits nothing unless asked


def _emit_concurrently(actor, sources: list[Agent]) -> None:
    """Several threads emit at once, each in its own transactions (its own connection)."""
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def work(index: int) -> None:
        try:
            start.wait(10)
            for number in range(PER_THREAD):
                source = sources[index % len(sources)]
                services.message_create(actor=actor, agent=source, payload={"thread": index, "n": number})
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors


def test_concurrent_emitters_reach_every_enabled_receiver_once_in_order(workers, editor, namespace) -> None:
    first = make(editor, namespace, "first", "Agents::ManualEventAgent")
    second = make(editor, namespace, "second", "Agents::ManualEventAgent")
    formatting = {"instructions": {"seen_by": "{{ agent.name }}"}, "mode": "merge"}
    both = make(editor, namespace, "both", "Agents::EventFormattingAgent", formatting, sources=(first, second))
    only_first = make(editor, namespace, "only-first", "Agents::EventFormattingAgent", formatting, sources=(first,))
    muted = make(
        editor, namespace, "muted", "Agents::EventFormattingAgent", formatting, sources=(first, second), disabled=True
    )
    workers.start()
    workers.start()  # two clusters: deliveries to one receiver race across processes

    _emit_concurrently(editor, [first, second])
    total = THREADS * PER_THREAD
    first_sent, second_sent = payloads(first), payloads(second)
    assert len(first_sent) + len(second_sent) == total

    def caught_up() -> bool:
        return Message.objects.filter(agent=both).count() >= total and Message.objects.filter(
            agent=only_first
        ).count() >= len(first_sent)

    wait_until(caught_up, 90, "every delivery")

    # Each message once; per source in the source's id order (the receiver's id order is delivery order).
    seen_both = payloads(both)
    assert len(seen_both) == total and {p.pop("seen_by") for p in seen_both} == {"both"}
    for sent in (first_sent, second_sent):
        threads = {p["thread"] for p in sent}
        assert [p for p in seen_both if p["thread"] in threads] == sent
    assert payloads(only_first) == [{**p, "seen_by": "only-first"} for p in first_sent]
    latest = {source: Message.objects.filter(agent=source).latest("id").id for source in (first, second)}
    assert {link.source: link.cursor for link in AgentLink.objects.filter(receiver=both)} == latest
    assert AgentLink.objects.get(receiver=only_first).cursor == latest[first]
    assert Agent.objects.get(pk=both.pk).last_error == ""

    # The disabled receiver got nothing, and its cursors never moved.
    assert not Message.objects.filter(agent=muted).exists()
    assert set(AgentLink.objects.filter(receiver=muted).values_list("cursor", flat=True)) == {0}

    # Enabled again, it receives what is emitted from then on, not what it missed.
    services.agent_update(actor=editor, agent=muted, disabled=False)
    services.message_create(actor=editor, agent=second, payload={"thread": 99, "n": 0})
    wait_until(lambda: Message.objects.filter(agent=muted).exists(), 60, "the delivery to the re-enabled agent")
    assert payloads(muted) == [{"thread": 99, "n": 0, "seen_by": "muted"}]
