"""Propagation: every enabled receiver sees each message once and in order; disabled ones see nothing."""

import contextlib
import threading

from django.db import connection

from agents import runtime, services
from executions.models import Message
from flows.models import AgentLink

THREADS, PER_THREAD = 4, 8


def _emit_from_threads(actor, sources) -> None:
    """Emit from several threads at once. SQLite's in-memory test database refuses a second writer
    outright ("table is locked") instead of waiting, so there the threads take turns per
    transaction (SQLite serializes writers anyway); on PostgreSQL they really race."""
    errors: list[BaseException] = []
    turns = threading.Lock() if connection.vendor == "sqlite" else contextlib.nullcontext()

    def work(index: int) -> None:
        try:
            for number in range(PER_THREAD):
                source = sources[index % len(sources)]
                with turns:
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


def _echo(make_agent, *sources):
    return make_agent("echo", "Agents::EventFormattingAgent",
                      {"instructions": {"echo": "{{ message.n }}"}, "mode": "merge"}, sources=sources)  # fmt: skip


def test_concurrent_emitters_into_one_receiver_each_message_once_in_id_order(make_agent, actor):
    source = make_agent("source", "Agents::ManualEventAgent")
    echo = _echo(make_agent, source)
    _emit_from_threads(actor, [source])
    runtime.deliver(str(echo.pk))  # nothing left over: every emitter's delivery already ran
    sent = list(Message.objects.filter(agent=source).order_by("id").values_list("payload", flat=True))
    seen = list(Message.objects.filter(agent=echo).order_by("id").values_list("payload", flat=True))
    assert len(sent) == THREADS * PER_THREAD
    assert seen == [{**payload, "echo": payload["n"]} for payload in sent]  # once each, in the source's id order
    assert AgentLink.objects.get(receiver=echo).cursor == Message.objects.filter(agent=source).latest("id").id


def test_concurrent_sources_each_message_once(make_agent, actor):
    sources = [make_agent(f"source-{index}", "Agents::ManualEventAgent") for index in range(THREADS)]
    echo = _echo(make_agent, *sources)
    _emit_from_threads(actor, sources)
    seen = list(Message.objects.filter(agent=echo).order_by("id").values_list("payload", flat=True))
    assert sorted((p["thread"], p["n"]) for p in seen) == [(t, n) for t in range(THREADS) for n in range(PER_THREAD)]
    for index in range(THREADS):  # per source, in order
        assert [p["n"] for p in seen if p["thread"] == index] == list(range(PER_THREAD))


def test_disabled_agent_receives_nothing(make_agent, actor):
    source = make_agent("source", "Agents::ManualEventAgent")
    echo = make_agent("echo", "Agents::EventFormattingAgent", {"instructions": {"x": "1"}}, sources=(source,),
                      disabled=True)  # fmt: skip
    services.message_create(actor=actor, agent=source, payload={"a": 1})
    runtime.deliver(str(echo.pk))
    assert not Message.objects.filter(agent=echo).exists()
    assert AgentLink.objects.get(receiver=echo).cursor == 0
    # Enabled again, it receives what is emitted from then on, not what it missed.
    services.agent_update(actor=actor, agent=echo, disabled=False)
    services.message_create(actor=actor, agent=source, payload={"a": 2})
    assert Message.objects.filter(agent=echo).count() == 1


def test_disabled_agent_does_not_run_on_schedule(make_agent, httpserver):
    from tests.agents.conftest import T0

    httpserver.expect_request("/x").respond_with_json({"v": 1})
    make_agent("w", "Agents::WebsiteAgent", {"url": httpserver.url_for("/x"), "extract": {"v": {"path": "v"}}},
               schedule="every_1m", disabled=True)  # fmt: skip
    assert runtime.tick(now=T0) == 0
    assert not Message.objects.exists()
