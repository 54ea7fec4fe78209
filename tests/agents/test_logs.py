"""Agent logs: a line per run saying what it did or why it failed, the handler's own lines,
secrets masked, the newest `MILLRACE_AGENT_LOG_KEEP` kept, a failure that blocks no one."""

from pytest_httpserver import HTTPServer

from agents import runtime, services
from executions.models import AgentLog, Message
from vault.services import secret_set


def lines(agent) -> list[tuple[str, str]]:
    return list(AgentLog.objects.filter(agent=agent).order_by("id").values_list("level", "text"))


def test_a_run_logs_what_it_did(make_agent, actor, httpserver: HTTPServer):
    httpserver.expect_request("/items").respond_with_json({"items": [{"t": "a"}, {"t": "b"}]})
    fetch = make_agent(
        "fetch", "Agents::WebsiteAgent",
        {"url": httpserver.url_for("/items"), "type": "json", "extract": {"t": {"path": "items[*].t"}}},
    )  # fmt: skip

    services.agent_run(actor=actor, agent=fetch)

    assert lines(fetch) == [
        ("info", f"GET {httpserver.url_for('/items')} answered 200."),
        ("info", "Ran; emitted 2 messages."),
    ]
    assert AgentLog.objects.filter(agent=fetch).last().outbound_count == 2


def test_a_received_message_is_linked_from_the_log(make_agent, actor):
    inbox = make_agent("inbox", "Agents::ManualEventAgent")
    shaper = make_agent(
        "shaper", "Agents::EventFormattingAgent", {"instructions": {"x": "{{ message.n }}"}}, sources=(inbox,)
    )

    message = services.message_create(actor=actor, agent=inbox, payload={"n": 1})

    log = AgentLog.objects.get(agent=shaper)
    assert log.inbound_message_id == message.pk
    assert log.text == f"Received message {message.pk}; emitted 1 message."


def test_a_failure_is_an_error_line_with_the_secret_masked_and_the_others_go_on(
    make_agent, actor, namespace, httpserver: HTTPServer, second_server: HTTPServer
):
    secret_set(actor=actor, name="TOKEN", value="s3cr3t-token-value", namespace=namespace)
    httpserver.expect_request("/down").respond_with_data("no", status=500)
    second_server.expect_request("/ok").respond_with_json({})
    inbox = make_agent("inbox", "Agents::ManualEventAgent")
    failing = make_agent(
        "failing", "Agents::WebsiteAgent",
        {"url": httpserver.url_for("/down") + "?token=${TOKEN}", "type": "json", "extract": {"v": {"path": "v"}}},
        sources=(inbox,),
    )  # fmt: skip
    working = make_agent("working", "Agents::PostAgent", {"post_url": second_server.url_for("/ok")}, sources=(inbox,))

    services.message_create(actor=actor, agent=inbox, payload={"n": 1})

    failing.refresh_from_db()
    (level, text) = lines(failing)[-1]
    assert level == "error" and text.startswith("Received message") and "failed" in text
    assert "s3cr3t-token-value" not in text and "s3cr3t-token-value" not in failing.last_error
    assert all("s3cr3t-token-value" not in text for _, text in lines(failing))
    assert lines(working)[-1][0] == "info" and len(second_server.log) == 1
    assert not Message.objects.filter(agent=failing).exists()


def test_each_agent_keeps_only_its_newest_lines(make_agent, actor, settings):
    settings.MILLRACE_AGENT_LOG_KEEP = 3
    ticker = make_agent("ticker", "util.echo", {"value": {"tick": 1}})
    other = make_agent("other", "util.echo", {"value": {"tick": 2}})
    runtime.run_agent(str(other.pk))

    for _ in range(5):
        runtime.run_agent(str(ticker.pk))

    kept = list(AgentLog.objects.filter(agent=ticker).order_by("id").values_list("id", flat=True))
    assert len(kept) == 3
    assert kept == sorted(AgentLog.objects.filter(agent=ticker).values_list("id", flat=True))[-3:]
    assert AgentLog.objects.filter(agent=other).count() == 1  # another agent's lines are its own
