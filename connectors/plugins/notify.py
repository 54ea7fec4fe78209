"""Chat notifications: `notify.slack`, `notify.teams`, `notify.discord` and `notify.webhook`.

Each posts its service's incoming-webhook JSON through the outbound client (network policy,
timeouts, size caps), retrying on 429 and 5xx as the services ask: after `Retry-After` when
they send it, else after a doubling pause, within `maxRetries` and a cap on the total wait
that never runs past the step's deadline. A webhook URL is a credential (Slack's and Discord's
paths are the token), so logs and errors name its host only.
"""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

from connectors import http
from connectors.plugins.http import HEADERS_SCHEMA, HTTP_ERROR, TIMEOUT_SCHEMA, step_timeout
from connectors.registry import Plugin, PluginContext, Result, register
from core import jsonlimits

MAX_BODY_CHARS = 4096  # of the service's answer kept in the outputs
EXCERPT_CHARS = 300  # of the service's answer quoted in an error
FIRST_BACKOFF_SECONDS = 1.0  # the pause before the first retry when the service names none
CANCEL_CHECK_SECONDS = 1.0  # how often a pause asks whether the run was cancelled

_KESTRA = "io.kestra.plugin.notifications"
_COMMON = {
    "url": {
        "type": "string",
        "minLength": 1,
        "description": "The incoming-webhook URL. It is a credential: pass it as a secret (${SLACK_WEBHOOK_URL}).",
    },
    "text": {"type": "string", "minLength": 1, "description": "The message; give it or payload."},
    "messageText": {"type": "string", "minLength": 1, "description": "Kestra's name for text."},
    "payload": {
        "type": ["object", "string"],
        "description": "The whole JSON body, sent as is (an object, or a string holding JSON); replaces text.",
    },
    "maxRetries": {
        "type": "integer",
        "minimum": 0,
        "maximum": 10,
        "default": 3,
        "description": "Retries after a 429 or 5xx answer.",
    },
    "maxRetryWait": {
        "type": "number",
        "minimum": 0,
        "maximum": 3600,
        "default": 60,
        "description": "Seconds the pauses between attempts may add up to; a longer Retry-After ends the retries.",
    },
    "timeout": TIMEOUT_SCHEMA,
}


def _message_given(*names: str) -> list[dict[str, Any]]:
    """The schema's `anyOf`: a task that gives no message at all is refused when the flow is saved."""
    return [{"required": [name]} for name in (*names, "payload")]


_OUTPUTS = {
    "type": "object",
    "properties": {
        "statusCode": {"type": "integer"},
        "body": {"type": "string", "description": f"The service's answer (at most {MAX_BODY_CHARS} characters)."},
        "attempts": {"type": "integer", "minimum": 1},
    },
    "required": ["statusCode", "body", "attempts"],
}


_RETRIES_DOC = """\
- **Retries**: a 429 or 5xx answer is retried after its `Retry-After` (seconds, fractions
  included, or an HTTP date), or else after 1, 2, 4 … seconds: at most `maxRetries` times
  (default 3), while the pauses add up to no more than `maxRetryWait` seconds (default 60), and
  never past the task's own timeout. Giving up fails the step with `HTTP_ERROR`, the status and
  the start of the service's answer. Any other 4xx answer fails at once. Connection errors and
  timeouts are not retried: the message may have arrived (a task-level `retry` repeats the
  whole step). `timeout` bounds each attempt (default `MILLRACE_HTTP_TIMEOUT`).
"""


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A Retry-After header in seconds (`120`, or an HTTP date); None when absent or unreadable.

    Fractions (`0.5`, Discord's way) are read too; a date in the past is zero."""
    if not value or not value.strip():
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _scrubbed(message: str, url: str) -> str:
    """An error text with the URL replaced by its host (an invalid URL may be quoted whole)."""
    return message.replace(url, http.display_host(url) or "(the webhook URL)") if url else message


def _excerpt(text: str) -> str:
    text = " ".join(text.split()) or "(no body)"
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"


def _pause(ctx: PluginContext, seconds: float) -> bool:
    """Sleep, asking now and then whether the run was cancelled; False when it was."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if ctx.is_cancelled():
            return False
        time.sleep(min(left, CANCEL_CHECK_SECONDS))
    return not ctx.is_cancelled()


def _stop_reason(
    status: int, attempts: int, max_retries: int, pause: float, budget_left: float, deadline: float | None
) -> str | None:
    """Why a failed attempt is not retried (a suffix for the error: "" for a plain refusal), or None."""
    if status != 429 and status < 500:
        return ""
    if attempts > max_retries:
        return f" (gave up after {attempts} attempts)"
    if pause > budget_left:
        return f" (gave up: the retry in {pause:g} s would pass maxRetryWait)"
    if deadline is not None and time.monotonic() + pause >= deadline:
        return f" (gave up: the step's time ends before the retry in {pause:g} s)"
    return None


class _Notification(Plugin):
    """The shared delivery: subclasses name the service and shape a text message."""

    category = "notify"
    service: ClassVar[str]
    #: Inputs that give the message text; at most one may be set.
    text_inputs: ClassVar[tuple[str, ...]] = ("text", "messageText")
    url_inputs = ("url",)

    def message(self, text: str, inputs: dict[str, Any]) -> dict[str, Any]:
        return {"text": text}

    def headers(self, inputs: dict[str, Any]) -> dict[str, str]:
        return {}

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        texts = [name for name in self.text_inputs if name in inputs]
        given = texts + (["payload"] if "payload" in inputs else [])
        if len(given) != 1:
            names = " or ".join([*self.text_inputs, "payload"])
            found = f" (got {', '.join(given)})" if given else ""
            return Result.failed(f"Give exactly one of {names}{found}.", code="INVALID_INPUT")
        headers = self.headers(inputs)
        payload = inputs.get("payload")
        body, data = None, None
        if isinstance(payload, str):
            try:
                jsonlimits.loads(payload)
            except ValueError as error:
                return Result.failed(f"payload is not valid JSON: {error}", code="INVALID_INPUT")
            data = payload.encode()
            if not any(name.lower() == "content-type" for name in headers):
                headers["Content-Type"] = "application/json"
        elif payload is not None:
            body = payload
        else:
            body = self.message(inputs[texts[0]], inputs)
        return self._deliver(ctx, inputs, headers, body, data)

    def _deliver(
        self, ctx: PluginContext, inputs: dict[str, Any], headers: dict[str, str], body: Any, data: bytes | None
    ) -> Result:
        url, service = inputs["url"], self.service
        host = http.display_host(url)
        max_retries, budget = inputs.get("maxRetries", 3), float(inputs.get("maxRetryWait", 60))
        waited, attempts, started = 0.0, 0, time.monotonic()
        while True:
            attempts += 1
            try:
                timeout = step_timeout(inputs.get("timeout"), ctx.deadline)
                response = http.request("POST", url, headers=headers, json=body, data=data, timeout=timeout)
            except http.OutboundError as error:
                reason = _scrubbed(str(error), url)
                ctx.log("error", f"{service} notification failed: {reason}", {"host": host, "attempt": attempts})
                return Result.failed(f"{service} notification failed: {reason}", code=error.code)
            status = response.status_code
            outputs = {"statusCode": status, "body": response.text[:MAX_BODY_CHARS], "attempts": attempts}
            details = {"host": host, "status_code": status, "attempt": attempts}
            if status < 400:
                details["duration_ms"] = round((time.monotonic() - started) * 1000)
                ctx.log("info", f"{service} notification sent", details)
                return Result.success(outputs)
            pause = retry_after_seconds(response.headers.get("Retry-After"))
            pause = FIRST_BACKOFF_SECONDS * 2 ** (attempts - 1) if pause is None else pause
            stop = _stop_reason(status, attempts, max_retries, pause, budget - waited, ctx.deadline)
            if stop is not None:
                ctx.log("warn", f"{service} notification failed with status {status}", details)
                answered = f"{service} webhook at {host} answered {status}: {_excerpt(response.text)}"
                return Result.failed(f"{answered}{stop}", code=HTTP_ERROR, outputs=outputs)
            ctx.log("warn", f"{service} answered {status}; retrying in {pause:g} s", details)
            if not _pause(ctx, pause):
                return Result.failed(f"{service} notification cancelled while waiting to retry.", code="CANCELLED")
            waited += pause


@register
class SlackNotification(_Notification):
    id = "notify.slack"
    name = "Slack message"
    service = "Slack"
    aliases = (
        f"{_KESTRA}.slack.SlackIncomingWebhook",
        "io.kestra.plugin.slack.notifications.SlackIncomingWebhook",
    )
    description = "Posts a message to a Slack incoming webhook; retries on 429 and 5xx after Retry-After."
    documentation = (
        """\
Posts to a [Slack incoming webhook](https://api.slack.com/messaging/webhooks).

- **url**: the webhook URL (`https://hooks.slack.com/services/...`). Its path is the token:
  keep it in a secret. Logs and errors name the host only.
- **text** (or Kestra's **messageText**): the message, in Slack's `mrkdwn`. With it, the
  optional **channel**, **username**, **iconEmoji** (`:rocket:`) and **iconUrl** are sent as
  `channel`, `username`, `icon_emoji`, `icon_url` (webhooks made by newer Slack apps ignore them).
- **payload**: the whole JSON body instead (an object, or a string holding JSON), for Block
  Kit messages: `{"blocks": [...]}`. It is sent as is; text and the options above are not added.
"""
        + _RETRIES_DOC
        + """
Slack answers errors such as `400 invalid_payload` or `404 no_service` in plain text.

Outputs: `statusCode`, `body` (Slack's answer, `ok`), `attempts`.
"""
    )
    example = """\
- name: tell-the-team
  type: notify.slack
  properties:
    url: "${SLACK_WEBHOOK_URL}"
    text: "Nightly import finished: {{ outputs.load.size }} rows"
    username: Millrace
    iconEmoji: ":rocket:"
"""
    input_schema = {
        "type": "object",
        "properties": {
            **_COMMON,
            "channel": {"type": "string", "minLength": 1, "description": "#channel or @user (legacy webhooks)."},
            "username": {"type": "string", "minLength": 1},
            "iconEmoji": {"type": "string", "minLength": 1, "description": "An emoji code such as :rocket:."},
            "iconUrl": {"type": "string", "minLength": 1},
        },
        "required": ["url"],
        "anyOf": _message_given("text", "messageText"),
    }
    output_schema = _OUTPUTS

    def message(self, text: str, inputs: dict[str, Any]) -> dict[str, Any]:
        names = {"channel": "channel", "username": "username", "iconEmoji": "icon_emoji", "iconUrl": "icon_url"}
        return {"text": text, **{key: inputs[name] for name, key in names.items() if name in inputs}}


@register
class TeamsNotification(_Notification):
    id = "notify.teams"
    name = "Microsoft Teams message"
    service = "Teams"
    aliases = (f"{_KESTRA}.teams.TeamsIncomingWebhook",)
    description = "Posts a message card to a Microsoft Teams incoming webhook; retries on 429 and 5xx."
    documentation = (
        """\
Posts to a Microsoft Teams incoming webhook (a channel's connector, or a Workflows webhook).

- **url**: the webhook URL; it is a credential, keep it in a secret. Logs and errors name the
  host only.
- **text** (or Kestra's **messageText**): the message (Markdown). It is sent as a simple
  `MessageCard` (`@type`, `@context`, `summary`, `text`), with **title** and **themeColor**
  (a hex colour such as `0076D7`) when given.
- **payload**: the whole JSON body instead, sent as is: an Adaptive Card envelope for a Teams
  Workflows webhook (`{"type": "message", "attachments": [...]}`), or any MessageCard.
"""
        + _RETRIES_DOC
        + """
Outputs: `statusCode`, `body` (the connector answers `1`), `attempts`.
"""
    )
    example = """\
- name: alert-ops
  type: notify.teams
  properties:
    url: "${TEAMS_WEBHOOK_URL}"
    title: Backup failed
    text: "The backup of **{{ inputs.database }}** failed; see the execution log."
    themeColor: D70000
"""
    input_schema = {
        "type": "object",
        "properties": {
            **_COMMON,
            "title": {"type": "string", "minLength": 1},
            "themeColor": {"type": "string", "pattern": "^#?[0-9A-Fa-f]{6}$", "description": "Hex, e.g. 0076D7."},
        },
        "required": ["url"],
        "anyOf": _message_given("text", "messageText"),
    }
    output_schema = _OUTPUTS

    def message(self, text: str, inputs: dict[str, Any]) -> dict[str, Any]:
        card: dict[str, Any] = {
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": inputs.get("title") or text[:100],
            "text": text,
        }
        if "title" in inputs:
            card["title"] = inputs["title"]
        if "themeColor" in inputs:
            card["themeColor"] = inputs["themeColor"].lstrip("#")
        return card


@register
class DiscordNotification(_Notification):
    id = "notify.discord"
    name = "Discord message"
    service = "Discord"
    aliases = (f"{_KESTRA}.discord.DiscordIncomingWebhook",)
    text_inputs = ("text", "messageText", "content")
    description = "Posts a message to a Discord webhook; retries on 429 and 5xx after Retry-After."
    documentation = (
        """\
Posts to a [Discord webhook](https://discord.com/developers/docs/resources/webhook#execute-webhook).

- **url**: the webhook URL (`https://discord.com/api/webhooks/<id>/<token>`); its path is the
  token, keep it in a secret. Logs and errors name the host only.
- **text** (or **content**, Discord's and Kestra's name, or **messageText**): the message, sent
  as `content` (Discord allows 2000 characters), with **username** and **avatarUrl** (sent as
  `username`, `avatar_url`) when given.
- **payload**: the whole JSON body instead, sent as is (embeds: `{"embeds": [...]}`).
"""
        + _RETRIES_DOC
        + """
Outputs: `statusCode` (Discord answers 204), `body` (empty then), `attempts`.
"""
    )
    example = """\
- name: post-release
  type: notify.discord
  properties:
    url: "${DISCORD_WEBHOOK_URL}"
    text: "Version {{ inputs.version }} is out"
    username: Release bot
"""
    input_schema = {
        "type": "object",
        "properties": {
            **_COMMON,
            "content": {"type": "string", "minLength": 1, "description": "Discord's name for text."},
            "username": {"type": "string", "minLength": 1},
            "avatarUrl": {"type": "string", "minLength": 1},
        },
        "required": ["url"],
        "anyOf": _message_given("text", "messageText", "content"),
    }
    output_schema = _OUTPUTS

    def message(self, text: str, inputs: dict[str, Any]) -> dict[str, Any]:
        names = {"username": "username", "avatarUrl": "avatar_url"}
        return {"content": text, **{key: inputs[name] for name, key in names.items() if name in inputs}}


@register
class WebhookNotification(_Notification):
    id = "notify.webhook"
    name = "Webhook message"
    service = "Webhook"
    description = 'Posts {"text": ...} (or a payload) to any incoming webhook; retries on 429 and 5xx.'
    documentation = (
        """\
Posts a message to any service with a Slack-style incoming webhook (Mattermost, Rocket.Chat,
Google Chat, Zulip's Slack-compatible endpoint, your own).

- **url**: the webhook URL; treat it as a credential. Logs and errors name the host only.
- **text** (or **messageText**): sent as `{"text": "..."}`.
- **payload**: the whole JSON body instead, sent as is (an object, or a string holding JSON).
- **headers**: extra request headers (an `Authorization` the service wants); never logged.
"""
        + _RETRIES_DOC
        + """
For arbitrary HTTP calls without retries, use `http.request` or `webhook`.

Outputs: `statusCode`, `body` (the service's answer, at most 4096 characters), `attempts`.
"""
    )
    example = """\
- name: notify-chat
  type: notify.webhook
  properties:
    url: "${CHAT_WEBHOOK_URL}"
    text: "Deployment of {{ inputs.service }} finished"
    maxRetries: 5
"""
    input_schema = {
        "type": "object",
        "properties": {**_COMMON, "headers": HEADERS_SCHEMA},
        "required": ["url"],
        "anyOf": _message_given("text", "messageText"),
    }
    output_schema = _OUTPUTS

    def headers(self, inputs: dict[str, Any]) -> dict[str, str]:
        headers = inputs.get("headers") or {}
        return {name: value if isinstance(value, str) else json.dumps(value) for name, value in headers.items()}
