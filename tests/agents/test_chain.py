"""A scheduled WebsiteAgent → TriggerAgent → PostAgent chain over two local HTTP servers."""

import json
from datetime import timedelta

from werkzeug import Request, Response

from agents import runtime
from executions.models import Message
from flows.models import Agent, AgentLink
from tests.agents.conftest import T0

ITEMS = [{"title": "alpha", "score": 5}, {"title": "beta", "score": 1}]


def test_three_agent_chain(make_agent, httpserver, second_server):
    feed = {"data": {"items": list(ITEMS)}}
    httpserver.expect_request("/feed").respond_with_handler(
        lambda request: Response(json.dumps(feed), content_type="application/json")
    )
    posted: list[dict] = []

    def receive(request: Request) -> Response:
        posted.append(request.get_json())
        return Response(json.dumps({"ok": True}), content_type="application/json")

    second_server.expect_request("/hook", method="POST").respond_with_handler(receive)

    website = make_agent(
        "feed", "Agents::WebsiteAgent",
        {"url": httpserver.url_for("/feed"), "type": "json", "mode": "on_change",
         "extract": {"title": {"path": "data.items[*].title"}, "score": {"path": "$.data.items[*].score"}}},
        schedule="every_5m", keep_messages_for=3600,
    )  # fmt: skip
    trigger = make_agent(
        "hot", "Agents::TriggerAgent",
        {"rules": [{"type": "field>value", "path": "score", "value": "3"}], "keep_event": True,
         "message": "Hot: {{ message.title }}"},
        sources=(website,),
    )  # fmt: skip
    post = make_agent(
        "notify", "Agents::PostAgent",
        {"post_url": second_server.url_for("/hook"), "payload": {"via": "millrace", "agent": "{{ agent.name }}"}},
        sources=(trigger,),
    )  # fmt: skip

    assert runtime.tick(now=T0) == 1  # only the website agent is scheduled
    website.refresh_from_db()
    emitted = list(Message.objects.filter(agent=website).order_by("id"))
    assert [m.payload for m in emitted] == ITEMS
    assert all(m.expires_at == T0 + timedelta(hours=1) for m in emitted)
    assert website.last_run_at == T0 and website.last_error == ""
    assert website.memory["last_status"] == 200 and len(website.memory["seen"]) == 2
    (hot,) = Message.objects.filter(agent=trigger)
    assert hot.payload == {"title": "alpha", "score": 5, "message": "Hot: alpha"} and hot.expires_at is None
    assert posted == [{"title": "alpha", "score": 5, "message": "Hot: alpha", "via": "millrace", "agent": "notify"}]
    assert AgentLink.objects.get(source=website, receiver=trigger).cursor == emitted[-1].id
    assert AgentLink.objects.get(source=trigger, receiver=post).cursor == hot.id

    assert runtime.tick(now=T0 + timedelta(minutes=1)) == 0  # every_5m: not due yet
    assert runtime.tick(now=T0 + timedelta(minutes=5, seconds=2)) == 1  # due; nothing changed (on_change)
    assert Message.objects.filter(agent=website).count() == 2 and len(posted) == 1

    feed["data"]["items"].append({"title": "gamma", "score": 9})
    assert runtime.tick(now=T0 + timedelta(minutes=10)) == 1
    assert [m.payload["title"] for m in Message.objects.filter(agent=website).order_by("id")] == [
        "alpha", "beta", "gamma",
    ]  # fmt: skip
    assert [p["title"] for p in posted] == ["alpha", "gamma"]
    website.refresh_from_db()
    assert len(website.memory["seen"]) == 3

    # Expiry: the website's messages go after an hour; the trigger's are kept.
    assert runtime.purge_expired(now=T0 + timedelta(minutes=30)) == 0
    assert runtime.purge_expired(now=T0 + timedelta(hours=2)) == 3
    assert not Message.objects.filter(agent=website).exists()
    assert Message.objects.filter(agent=trigger).count() == 2


def test_failing_agent_records_the_error_and_others_go_on(make_agent, httpserver):
    httpserver.expect_request("/broken").respond_with_data("nope", status=500)
    httpserver.expect_request("/ok").respond_with_json({"v": 1})
    broken = make_agent(
        "broken",
        "Agents::WebsiteAgent",
        {"url": httpserver.url_for("/broken"), "extract": {"v": {"path": "v"}}},
        schedule="every_1m",
    )
    fine = make_agent(
        "fine", "Agents::WebsiteAgent", {"url": httpserver.url_for("/ok"), "extract": {"v": {"path": "v"}}},
        schedule="every_1m",
    )  # fmt: skip
    assert runtime.tick(now=T0) == 2
    broken.refresh_from_db()
    assert "status 500" in broken.last_error and broken.last_run_at == T0
    assert not Message.objects.filter(agent=broken).exists()
    assert [m.payload for m in Message.objects.filter(agent=fine)] == [{"v": 1}]


def test_a_failing_receiver_does_not_block_its_cursor(make_agent):
    source = make_agent("source", "Agents::ManualEventAgent")
    formatter = make_agent("fmt", "Agents::EventFormattingAgent", {"instructions": {"x": "{{ message.a.b }}"}},
                           sources=(source,))  # fmt: skip
    from agents.services import message_create

    actor = source.created_by
    message_create(actor=actor, agent=source, payload={"nothing": 1})  # message.a is undefined: fails
    second = message_create(actor=actor, agent=source, payload={"a": {"b": 2}})
    formatter.refresh_from_db()
    assert formatter.last_error == ""  # the later message succeeded and cleared the error
    assert [m.payload for m in Message.objects.filter(agent=formatter)] == [{"x": 2}]
    assert AgentLink.objects.get(receiver=formatter).cursor == second.id


def test_scheduler_agent_disables_and_enables_targets(make_agent):
    target = make_agent("target", "Agents::ManualEventAgent")
    off = make_agent("off", "Agents::SchedulerAgent", {"action": "disable", "target_ids": [str(target.pk)]},
                     schedule="0 22 * * *")  # fmt: skip
    make_agent("on", "Agents::SchedulerAgent", {"action": "enable", "target_ids": [str(target.pk)]}, schedule="7am")
    assert runtime.tick(now=T0.replace(hour=22, minute=0, second=5)) == 1
    assert Agent.objects.get(pk=target.pk).disabled is True
    off.refresh_from_db()
    assert off.last_error == ""
    assert runtime.tick(now=T0.replace(hour=7, minute=0) + timedelta(days=1)) == 1
    assert Agent.objects.get(pk=target.pk).disabled is False
