"""Huginn agents that need no network: trigger rules, formatting, manual, webhook and scheduler."""

from __future__ import annotations

import re
import secrets
from typing import Any

from agents.types import AgentError, AgentRun, AgentType, json_path, register, truthy

RULE_TYPES = ("regex", "!regex", "field==value", "field!=value", "field>value", "field>=value", "field<value",
              "field<=value")  # fmt: skip
SCHEDULER_ACTIONS = ("run", "enable", "disable")


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def rule_matches(rule: dict[str, Any], payload: dict[str, Any]) -> bool:
    """One Huginn rule against a payload; `value` may be a list (any of them matches)."""
    kind = rule.get("type")
    found = json_path(payload, str(rule.get("path", "")))
    values = rule.get("value")
    for value in values if isinstance(values, list) else [values]:
        if kind in ("regex", "!regex"):
            try:
                hit = re.search(str(value), "" if found is None else str(found)) is not None
            except re.error as exc:
                raise AgentError(f"Bad regex '{value}': {exc}") from None
            if hit == (kind == "regex"):
                return True
        elif kind in ("field==value", "field!=value"):
            equal = found is not None and str(found) == str(value)
            if equal == (kind == "field==value"):
                return True
        elif kind in ("field>value", "field>=value", "field<value", "field<=value"):
            left, right = _number(found), _number(value)
            if left is None or right is None:
                continue
            compare = {">": left > right, ">=": left >= right, "<": left < right, "<=": left <= right}
            if compare[kind[5:-5]]:
                return True
    return False


@register
class TriggerAgent(AgentType):
    """Emits when the incoming payload matches its rules (all, or `must_match` of them)."""

    name = "Agents::TriggerAgent"
    aliases = ("TriggerAgent",)
    schedulable = False

    def option_problems(self, options: dict[str, Any]) -> list[str]:
        rules = options.get("rules")
        if not isinstance(rules, list) or not rules:
            return ["'rules' must be a non-empty list"]
        problems = []
        for index, rule in enumerate(rules):
            if not isinstance(rule, dict) or rule.get("type") not in RULE_TYPES:
                problems.append(f"rules[{index}].type must be one of {', '.join(RULE_TYPES)}")
            elif "path" not in rule or "value" not in rule:
                problems.append(f"rules[{index}] needs 'path' and 'value'")
        return problems

    def receive(self, run: AgentRun, options: dict[str, Any], payload: dict[str, Any]) -> None:
        rules = options["rules"]
        matched = sum(1 for rule in rules if rule_matches(rule, payload))
        try:
            needed = int(options.get("must_match") or len(rules))
        except (TypeError, ValueError):
            raise AgentError("'must_match' must be a number") from None
        if matched < needed:
            return
        message = options.get("message")
        if truthy(options.get("keep_event", False)):
            run.emit({**payload, **({"message": message} if message not in (None, "") else {})})
        else:
            run.emit({"message": message})


@register
class EventFormattingAgent(AgentType):
    """Emits its rendered `instructions` (`mode: merge` adds them to the incoming payload)."""

    name = "Agents::EventFormattingAgent"
    aliases = ("EventFormattingAgent",)
    schedulable = False

    def option_problems(self, options: dict[str, Any]) -> list[str]:
        problems = []
        if not isinstance(options.get("instructions"), dict):
            problems.append("'instructions' must be an object")
        if options.get("mode", "clean") not in ("clean", "merge"):
            problems.append("'mode' must be 'clean' or 'merge'")
        return problems

    def receive(self, run: AgentRun, options: dict[str, Any], payload: dict[str, Any]) -> None:
        instructions = options["instructions"]
        run.emit({**payload, **instructions} if options.get("mode") == "merge" else instructions)


@register
class ManualEventAgent(AgentType):
    """Emits only what a person sends it (`POST /api/v1/agents/{id}/messages`)."""

    name = "Agents::ManualEventAgent"
    aliases = ("ManualEventAgent",)
    schedulable = False
    receives = False


@register
class WebhookAgent(AgentType):
    """Emits what is POSTed to `/api/v1/agents/{id}/webhook/{secret}` (`payload_path` picks a part)."""

    name = "Agents::WebhookAgent"
    aliases = ("WebhookAgent",)
    schedulable = False
    receives = False

    def prepare_options(self, options: dict[str, Any]) -> dict[str, Any]:
        if not options.get("secret"):
            options = {**options, "secret": secrets.token_urlsafe(24)}
        return options

    def option_problems(self, options: dict[str, Any]) -> list[str]:
        secret = options.get("secret")
        if secret is not None and (not isinstance(secret, str) or len(secret) < 8):
            return ["'secret' must be a string of at least 8 characters"]
        return []

    @staticmethod
    def payloads(options: dict[str, Any], body: Any) -> list[dict[str, Any]]:
        """The messages a POSTed body becomes: one, or one per item when `payload_path` gives a list."""
        path = options.get("payload_path")
        picked = json_path(body, path) if path not in (None, "", ".") else body
        items = picked if isinstance(picked, list) else [picked]
        return [item if isinstance(item, dict) else {"value": item} for item in items if item is not None]


@register
class SchedulerAgent(AgentType):
    """On its schedule, runs, enables or disables its `target_ids` (agents of its namespace)."""

    name = "Agents::SchedulerAgent"
    aliases = ("SchedulerAgent",)
    receives = False

    def option_problems(self, options: dict[str, Any]) -> list[str]:
        problems = []
        if options.get("action", "run") not in SCHEDULER_ACTIONS:
            problems.append(f"'action' must be one of {', '.join(SCHEDULER_ACTIONS)}")
        targets = options.get("target_ids")
        if not isinstance(targets, list) or not targets or not all(isinstance(t, str) for t in targets):
            problems.append("'target_ids' must be a non-empty list of agent ids")
        return problems

    def check(self, run: AgentRun, options: dict[str, Any]) -> None:
        run.control.append((options.get("action", "run"), list(options["target_ids"])))
