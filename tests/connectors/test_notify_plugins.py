"""notify.slack, notify.teams, notify.discord and notify.webhook against a real local server."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from connectors.plugins import notify
from connectors.registry import InputError, ResultStatus, get_plugin
from flows.services import flow_validate

from .conftest import FakeContext, RunPlugin

TOKEN = "XyZsEcReTtOkEn42"
HOOK = f"/services/T000/B000/{TOKEN}"


def _sent(server: HTTPServer, index: int = 0) -> Request:
    return server.log[index][0]


def _answers(server: HTTPServer, *responses: Response) -> None:
    """The hook answers with `responses` in turn (the last one again once they run out)."""
    queue = list(responses)

    def answer(request: Request) -> Response:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    server.expect_request(HOOK, method="POST").respond_with_handler(answer)


@pytest.fixture
def hook(httpserver: HTTPServer, allow_loopback: None) -> str:
    return httpserver.url_for(HOOK)


def test_slack_posts_text_and_its_options(httpserver: HTTPServer, hook: str, run_plugin: RunPlugin) -> None:
    _answers(httpserver, Response("ok", content_type="text/plain"))
    result = run_plugin(
        "notify.slack",
        {"url": hook, "text": "Import *done*", "channel": "#ops", "username": "bot", "iconEmoji": ":rocket:"},
    )
    assert result.status == ResultStatus.SUCCESS, result.error
    assert result.outputs == {"statusCode": 200, "body": "ok", "attempts": 1}
    sent = _sent(httpserver)
    assert sent.mimetype == "application/json"
    assert sent.get_json() == {"text": "Import *done*", "channel": "#ops", "username": "bot", "icon_emoji": ":rocket:"}


def test_slack_sends_an_icon_url_and_takes_kestras_message_text(
    httpserver: HTTPServer, hook: str, run_plugin: RunPlugin
) -> None:
    _answers(httpserver, Response("ok"))
    run_plugin("notify.slack", {"url": hook, "messageText": "hi", "iconUrl": "https://example.com/i.png"})
    assert _sent(httpserver).get_json() == {"text": "hi", "icon_url": "https://example.com/i.png"}


def test_teams_posts_a_message_card(httpserver: HTTPServer, hook: str, run_plugin: RunPlugin) -> None:
    _answers(httpserver, Response("1"))
    result = run_plugin(
        "notify.teams", {"url": hook, "text": "Backup **failed**", "title": "Backup", "themeColor": "#D70000"}
    )
    assert result.outputs == {"statusCode": 200, "body": "1", "attempts": 1}
    assert _sent(httpserver).get_json() == {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": "Backup",
        "text": "Backup **failed**",
        "title": "Backup",
        "themeColor": "D70000",
    }


def test_teams_without_a_title_summarises_with_the_text(
    httpserver: HTTPServer, hook: str, run_plugin: RunPlugin
) -> None:
    _answers(httpserver, Response("1"))
    run_plugin("notify.teams", {"url": hook, "text": "x" * 150})
    card = _sent(httpserver).get_json()
    assert card["summary"] == "x" * 100 and "title" not in card and "themeColor" not in card


def test_discord_posts_content_and_its_options(httpserver: HTTPServer, hook: str, run_plugin: RunPlugin) -> None:
    _answers(httpserver, Response(status=204))
    result = run_plugin(
        "notify.discord", {"url": hook, "content": "v2 is out", "username": "bot", "avatarUrl": "https://e.com/a.png"}
    )
    assert result.outputs == {"statusCode": 204, "body": "", "attempts": 1}
    assert _sent(httpserver).get_json() == {
        "content": "v2 is out",
        "username": "bot",
        "avatar_url": "https://e.com/a.png",
    }


def test_webhook_posts_text_with_its_headers(httpserver: HTTPServer, hook: str, run_plugin: RunPlugin, ctx) -> None:
    _answers(httpserver, Response('{"ok": true}', content_type="application/json"))
    result = run_plugin(
        "notify.webhook", {"url": hook, "text": "deployed", "headers": {"Authorization": "Key k-77", "X-N": 2}}
    )
    sent = _sent(httpserver)
    assert sent.get_json() == {"text": "deployed"}
    assert (sent.headers["Authorization"], sent.headers["X-N"]) == ("Key k-77", "2")
    assert result.outputs["body"] == '{"ok": true}'
    assert "k-77" not in ctx.logged_text()


@pytest.mark.parametrize("plugin_id", ["notify.slack", "notify.teams", "notify.discord", "notify.webhook"])
def test_a_payload_object_is_sent_as_is(httpserver: HTTPServer, hook: str, run_plugin: RunPlugin, plugin_id) -> None:
    _answers(httpserver, Response("ok"))
    payload = {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}], "n": 1}
    result = run_plugin(
        plugin_id,
        {"url": hook, "payload": payload, "username": "ignored"}
        if plugin_id != "notify.webhook"
        else {"url": hook, "payload": payload},
    )
    assert result.status == ResultStatus.SUCCESS
    assert _sent(httpserver).get_json() == payload


def test_a_payload_string_is_sent_byte_for_byte(httpserver: HTTPServer, hook: str, run_plugin: RunPlugin) -> None:
    _answers(httpserver, Response("ok"))
    payload = '{\n  "text": "Failure in {{ flow }}",  "unfurl_links": false\n}'
    run_plugin("notify.slack", {"url": hook, "payload": payload})
    assert _sent(httpserver).get_data(as_text=True) == payload
    assert _sent(httpserver).mimetype == "application/json"


@pytest.mark.parametrize(
    ("inputs", "words"),
    [
        ({"text": "a", "payload": {"text": "b"}}, "(got text, payload)"),
        ({"text": "a", "messageText": "b"}, "(got text, messageText)"),
        ({"payload": "{not json"}, "payload is not valid JSON"),
        ({"payload": "[" * 500 + "]" * 500}, "payload is not valid JSON: The JSON nests deeper"),
    ],
    ids=["text-and-payload", "two-texts", "bad-json", "too-deep"],
)
def test_a_message_must_be_given_once_and_be_json(
    hook: str, run_plugin: RunPlugin, httpserver: HTTPServer, inputs, words
) -> None:
    result = run_plugin("notify.slack", {"url": hook, **inputs})
    assert result.status == ResultStatus.FAILED and result.error_code == "INVALID_INPUT"
    assert words in result.error
    assert httpserver.log == []


@pytest.mark.parametrize(
    ("plugin_id", "inputs", "path"),
    [
        ("notify.slack", {"url": 5, "text": "a"}, "url"),
        ("notify.slack", {"text": "a"}, ""),
        ("notify.slack", {"url": "https://h.example/x", "channel": "#ops"}, ""),  # no message at all
        ("notify.teams", {"url": "https://h.example/x", "title": "t"}, ""),
        ("notify.discord", {"url": "https://h.example/x", "username": "u"}, ""),
        ("notify.webhook", {"url": "https://h.example/x"}, ""),
        ("notify.slack", {"url": "https://h.example/x", "text": 3}, "text"),
        ("notify.slack", {"url": "https://h.example/x", "text": ""}, "text"),
        ("notify.slack", {"url": "https://h.example/x", "payload": [1]}, "payload"),
        ("notify.slack", {"url": "https://h.example/x", "text": "a", "maxRetries": -1}, "maxRetries"),
        ("notify.slack", {"url": "https://h.example/x", "text": "a", "maxRetries": 11}, "maxRetries"),
        ("notify.slack", {"url": "https://h.example/x", "text": "a", "maxRetries": "3"}, "maxRetries"),
        ("notify.slack", {"url": "https://h.example/x", "text": "a", "maxRetryWait": 1e12}, "maxRetryWait"),
        ("notify.slack", {"url": "https://h.example/x", "text": "a", "timeout": 0}, "timeout"),
        ("notify.teams", {"url": "https://h.example/x", "text": "a", "themeColor": "red"}, "themeColor"),
        ("notify.discord", {"url": "https://h.example/x", "text": "a", "username": ["x"]}, "username"),
        ("notify.webhook", {"url": "https://h.example/x", "text": "a", "headers": {"X": [1]}}, "headers.X"),
        ("notify.webhook", {"url": "https://h.example/x", "text": "a", "headers": {"X": "a\r\nB: c"}}, "headers.X"),
        ("notify.webhook", {"url": "https://h.example/x", "text": "a", "headers": {"Bad Name": "x"}}, "headers"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_wrong_types_are_refused_by_the_schema(plugin_id: str, inputs: dict, path: str) -> None:
    with pytest.raises(InputError) as caught:
        get_plugin(plugin_id).check_inputs(inputs)
    assert path in [problem["path"] for problem in caught.value.problems]


def test_a_429_is_retried_after_retry_after_seconds(
    httpserver: HTTPServer, hook: str, run_plugin: RunPlugin, ctx
) -> None:
    _answers(httpserver, Response("rate_limited", status=429, headers={"Retry-After": "1"}), Response("ok"))
    started = time.monotonic()
    result = run_plugin("notify.slack", {"url": hook, "text": "hi"})
    assert result.status == ResultStatus.SUCCESS
    assert result.outputs == {"statusCode": 200, "body": "ok", "attempts": 2}
    assert time.monotonic() - started >= 1.0
    assert len(httpserver.log) == 2
    assert ("warn", "Slack answered 429; retrying in 1 s") in [(level, message) for level, message, _ in ctx.logs]


def test_a_429_is_retried_after_a_retry_after_date(httpserver: HTTPServer, hook: str, run_plugin: RunPlugin) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=1), usegmt=True)
    _answers(httpserver, Response("slow down", status=429, headers={"Retry-After": when}), Response(status=204))
    result = run_plugin("notify.discord", {"url": hook, "text": "hi"})
    assert result.outputs == {"statusCode": 204, "body": "", "attempts": 2}


def test_a_503_is_retried_with_a_doubling_pause(
    httpserver: HTTPServer, hook: str, run_plugin: RunPlugin, monkeypatch
) -> None:
    monkeypatch.setattr(notify, "FIRST_BACKOFF_SECONDS", 0.2)
    _answers(httpserver, Response("down", status=503), Response("down", status=502), Response("1"))
    started = time.monotonic()
    result = run_plugin("notify.teams", {"url": hook, "text": "hi"})
    assert result.outputs == {"statusCode": 200, "body": "1", "attempts": 3}
    assert time.monotonic() - started >= 0.2 + 0.4


def test_retries_end_after_max_retries_with_a_clear_error(
    httpserver: HTTPServer, hook: str, run_plugin: RunPlugin
) -> None:
    _answers(httpserver, Response("overloaded", status=503, headers={"Retry-After": "0"}))
    result = run_plugin("notify.webhook", {"url": hook, "text": "hi", "maxRetries": 2})
    assert result.status == ResultStatus.FAILED and result.error_code == "HTTP_ERROR"
    assert (
        result.error
        == "Webhook webhook at " + hook.split("/")[2] + " answered 503: overloaded (gave up after 3 attempts)"
    )
    assert result.outputs == {"statusCode": 503, "body": "overloaded", "attempts": 3}
    assert len(httpserver.log) == 3


def test_max_retries_zero_sends_once(httpserver: HTTPServer, hook: str, run_plugin: RunPlugin) -> None:
    _answers(httpserver, Response("busy", status=429, headers={"Retry-After": "0"}))
    result = run_plugin("notify.slack", {"url": hook, "text": "hi", "maxRetries": 0})
    assert result.outputs["attempts"] == 1 and len(httpserver.log) == 1


def test_a_retry_after_beyond_max_retry_wait_ends_at_once(
    httpserver: HTTPServer, hook: str, run_plugin: RunPlugin
) -> None:
    _answers(httpserver, Response("rate_limited", status=429, headers={"Retry-After": "3600"}))
    started = time.monotonic()
    result = run_plugin("notify.slack", {"url": hook, "text": "hi", "maxRetryWait": 5})
    assert time.monotonic() - started < 2
    assert result.status == ResultStatus.FAILED
    assert result.error.endswith("(gave up: the retry in 3600 s would pass maxRetryWait)")
    assert len(httpserver.log) == 1


def test_a_retry_never_waits_past_the_steps_deadline(httpserver: HTTPServer, hook: str, run_plugin: RunPlugin) -> None:
    _answers(httpserver, Response("busy", status=429, headers={"Retry-After": "2"}))
    context = FakeContext(deadline=time.monotonic() + 1.0)
    result = run_plugin("notify.slack", {"url": hook, "text": "hi"}, context)
    assert result.error.endswith("(gave up: the step's time ends before the retry in 2 s)")
    assert len(httpserver.log) == 1


def test_a_cancelled_run_stops_waiting(httpserver: HTTPServer, hook: str, run_plugin: RunPlugin) -> None:
    _answers(httpserver, Response("busy", status=429, headers={"Retry-After": "30"}))
    context = FakeContext(cancelled=True)
    result = run_plugin("notify.slack", {"url": hook, "text": "hi"}, context)
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "CANCELLED")


def test_a_400_fails_at_once_with_the_status_and_an_excerpt(
    httpserver: HTTPServer, hook: str, run_plugin: RunPlugin, ctx
) -> None:
    _answers(httpserver, Response("invalid_payload " + "x" * 1000, status=400))
    result = run_plugin("notify.slack", {"url": hook, "text": "hi"})
    assert result.status == ResultStatus.FAILED and result.error_code == "HTTP_ERROR"
    assert "answered 400: invalid_payload xxx" in result.error and result.error.endswith("…")
    assert len(result.error) < 400
    assert result.outputs["statusCode"] == 400 and len(result.outputs["body"]) == len("invalid_payload ") + 1000
    assert len(httpserver.log) == 1


def test_an_oversized_answer_body_is_cut_in_the_outputs(
    httpserver: HTTPServer, hook: str, run_plugin: RunPlugin
) -> None:
    _answers(httpserver, Response("y" * 10_000))
    result = run_plugin("notify.webhook", {"url": hook, "text": "hi"})
    assert result.outputs["body"] == "y" * notify.MAX_BODY_CHARS


def test_the_network_policy_refuses_loopback(httpserver: HTTPServer, run_plugin: RunPlugin) -> None:
    result = run_plugin("notify.slack", {"url": httpserver.url_for(HOOK), "text": "hi"})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "NETWORK_POLICY_ERROR")
    assert "loopback" in result.error and TOKEN not in result.error
    assert httpserver.log == []


def test_literal_refused_urls_are_refused_when_a_flow_is_saved(db) -> None:
    source = """name: alerts
tasks:
  - name: slack
    type: notify.slack
    properties: {url: "http://169.254.169.254/hook", text: hi}
  - name: kestra-teams
    type: io.kestra.plugin.notifications.teams.TeamsIncomingWebhook
    properties: {url: "file:///etc/passwd", messageText: hi}
"""
    problems = {(problem.path, problem.code) for problem in flow_validate(source=source)}
    assert ("tasks[0].properties.url", "refused_url") in problems
    assert ("tasks[1].properties.url", "refused_url") in problems


def test_a_task_without_a_message_is_refused_when_a_flow_is_saved(db) -> None:
    source = """name: alerts
tasks:
  - name: slack
    type: notify.slack
    properties: {url: "https://hooks.example.com/x", channel: "#ops"}
  - name: discord
    type: notify.discord
    properties: {url: "https://discord.example.com/x", content: "{{ inputs.text }}"}
"""
    problems = [problem.path for problem in flow_validate(source=source)]
    assert problems == ["tasks[0].properties"]


@pytest.mark.parametrize(
    ("status", "headers"),
    [(400, {}), (503, {"Retry-After": "0"})],
    ids=["refused", "gave-up"],
)
def test_the_secret_url_stays_out_of_errors_and_logs(
    httpserver: HTTPServer, hook: str, run_plugin: RunPlugin, ctx, status: int, headers: dict
) -> None:
    _answers(httpserver, Response("nope", status=status, headers=headers))
    result = run_plugin("notify.slack", {"url": hook, "text": "hi", "maxRetries": 1})
    assert result.status == ResultStatus.FAILED
    everything = json.dumps([result.error, result.outputs]) + ctx.logged_text()
    assert TOKEN not in everything and "/services/" not in everything
    assert hook.split("/")[2] in result.error  # the host is named


def test_a_connection_failure_names_the_host_only(run_plugin: RunPlugin, ctx, allow_loopback: None) -> None:
    result = run_plugin("notify.discord", {"url": f"http://127.0.0.1:9/api/webhooks/1/{TOKEN}", "text": "hi"})
    assert result.error_code == "CONNECTION_ERROR" and "127.0.0.1:9" in result.error
    assert TOKEN not in result.error + ctx.logged_text()


def test_an_unparsable_url_is_not_quoted(run_plugin: RunPlugin, ctx) -> None:
    result = run_plugin("notify.slack", {"url": f"http://[::1/{TOKEN}", "text": "hi"})
    assert result.error_code == "INVALID_URL"
    assert TOKEN not in result.error + ctx.logged_text()


@pytest.mark.parametrize(
    ("alias", "plugin_id"),
    [
        ("io.kestra.plugin.notifications.slack.SlackIncomingWebhook", "notify.slack"),
        ("io.kestra.plugin.slack.notifications.SlackIncomingWebhook", "notify.slack"),
        ("io.kestra.plugin.notifications.teams.TeamsIncomingWebhook", "notify.teams"),
        ("io.kestra.plugin.notifications.discord.DiscordIncomingWebhook", "notify.discord"),
    ],
)
def test_kestras_names_run_the_notify_plugins(alias: str, plugin_id: str) -> None:
    assert get_plugin(alias) is get_plugin(plugin_id)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("0.5", 0.5),
        ("", None),
        ("soon", None),
        ("-3", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_retry_after_reads_seconds(value: str, seconds: float | None) -> None:
    assert notify.retry_after_seconds(value) == seconds


def test_retry_after_reads_http_dates() -> None:
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert notify.retry_after_seconds("Sun, 01 Mar 2026 12:00:30 GMT", now) == 30.0
    assert notify.retry_after_seconds("Sun, 01 Mar 2026 11:00:00 GMT", now) == 0.0
    assert notify.retry_after_seconds("Sun, 99 Foo 2026 12:00:30 GMT", now) is None
