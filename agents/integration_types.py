"""Huginn's integration agents over the catalog's plugins, with Huginn's option names.

`Agents::ShellCommandAgent` runs `script.shell`, `Agents::EmailAgent` sends with `mail.send`,
`Agents::SlackAgent` posts with `notify.slack`: the plugins' isolation, limits, network
policy and masking apply unchanged. What differs from Huginn is written on each class.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from agents.types import AgentError, AgentRun, AgentType, register, run_plugin, truthy
from connectors.registry import ResultStatus, get_plugin
from executions.engine.templating import secrets_outside

STDIN_FILE = ".stdin"  # ShellCommandAgent's `stdin`, written into the command's working directory


def _plugin(plugin_id: str) -> Any:
    plugin = get_plugin(plugin_id)
    assert plugin is not None, plugin_id
    return plugin


@register
class ShellCommandAgent(AgentType):
    """Runs `command` (a string, or a list of arguments) with `script.shell` and emits
    `{command, path, exit_status, errors, output}` as Huginn does (output and errors stripped).

    The command runs in a fresh temporary working directory, not in `path` (kept in the
    message for Huginn's clients): scripts never run inside the server's directories.
    `stdin` is fed to the command; `suppress_on_failure` and `suppress_on_empty_output` skip
    the message as in Huginn. `unbundle` and `expected_update_period_in_days` are accepted and
    change nothing (every command runs in a clean environment). Turned off with the other
    script tasks by `MILLRACE_SCRIPTS_ENABLED=false`.
    """

    name = "Agents::ShellCommandAgent"
    aliases = ("ShellCommandAgent",)

    def option_problems(self, options: dict[str, Any]) -> list[str]:
        command = options.get("command")
        if isinstance(command, list):
            if not command or not all(isinstance(part, str) for part in command):
                return ["'command' must be a string or a non-empty list of strings"]
        elif not isinstance(command, str) or not command.strip():
            return ["'command' is required"]
        if options.get("stdin") is not None and not isinstance(options["stdin"], str):
            return ["'stdin' must be a string"]
        return []

    def check(self, run: AgentRun, options: dict[str, Any]) -> None:
        command = options.get("command")
        line = shlex.join(command) if isinstance(command, list) else str(command or "")
        if not line.strip():
            raise AgentError("'command' is required")
        inputs: dict[str, Any] = {"commands": [line], "failFast": False}
        stdin = options.get("stdin")
        if stdin is not None:  # a file of the working directory, read as the command's standard input
            inputs.update(commands=[f"exec < {STDIN_FILE}", line], inputFiles={STDIN_FILE: str(stdin)})
        plugin = _plugin("script.shell")
        misplaced = secrets_outside(plugin, inputs, run.ctx.used_secrets)
        if misplaced:
            raise AgentError(misplaced)
        problems = plugin.input_problems(inputs)
        if problems:
            raise AgentError(f"'command' does not fit script.shell: {problems[0]['message']}")
        result = plugin().run(inputs, run.ctx)
        outputs = result.outputs if isinstance(result.outputs, dict) else {}
        if "exitCode" not in outputs:  # refused before it ran (scripts disabled, bad input)
            raise AgentError(result.error or "The command did not run.")
        failed = result.status != ResultStatus.SUCCESS
        if failed:
            run.log(result.error or "The command failed.", "error")
        output = outputs.get("stdout", "").strip()
        if (failed and truthy(options.get("suppress_on_failure", False))) or (
            not output and truthy(options.get("suppress_on_empty_output", False))
        ):
            return
        run.emit(
            {
                "command": command,
                "path": options.get("path"),
                "exit_status": outputs["exitCode"],
                "errors": outputs.get("stderr", "").strip(),
                "output": output,
            }
        )

    def receive(self, run: AgentRun, options: dict[str, Any], payload: dict[str, Any]) -> None:
        self.check(run, options)


def _recipients(value: Any, run: AgentRun) -> list[str]:
    """The `recipients` option, or as in Huginn the e-mail address of the agent's owner."""
    if value in (None, "", []):
        owner = run.agent.options_saved_by
        if owner is None or not owner.email:
            raise AgentError("'recipients' is not set and the agent's owner has no e-mail address")
        return [owner.email]
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise AgentError(_RECIPIENTS_TYPE)


def _payload_text(payload: dict[str, Any]) -> str:
    """Huginn's default body: the message's keys and values, one per line."""
    return "\n".join(
        f"{key}: {value if isinstance(value, str) else json.dumps(value, default=str)}"
        for key, value in payload.items()
    )


_RECIPIENTS_TYPE = "'recipients' must be an address or a list of addresses"


@register
class EmailAgent(AgentType):
    """Sends each message it receives by e-mail with `mail.send`, one mail per recipient as in
    Huginn: `recipients` (default, as in Huginn: the owner's address), `subject`, `headline`,
    `body` (default: the message's keys and values), `from`, `content_type` (`text/html`
    sends `body` as HTML); `expected_receive_period_in_days` is accepted and changes nothing.
    The SMTP server is the operator's (`MILLRACE_SMTP_URL`, else Django's mail settings), as
    Huginn uses the server's own mail settings.
    """

    name = "Agents::EmailAgent"
    aliases = ("EmailAgent",)
    schedulable = False

    def option_problems(self, options: dict[str, Any]) -> list[str]:
        problems = []
        recipients = options.get("recipients")
        if not isinstance(recipients, str | list | None) or (
            isinstance(recipients, list) and not all(isinstance(item, str) for item in recipients)
        ):
            problems.append(_RECIPIENTS_TYPE)
        if options.get("content_type", "text/plain") not in ("text/plain", "text/html"):
            problems.append("'content_type' must be text/plain or text/html")
        return problems

    def receive(self, run: AgentRun, options: dict[str, Any], payload: dict[str, Any]) -> None:
        body = options.get("body")
        text = body if isinstance(body, str) and body else _payload_text(payload)
        headline = options.get("headline")
        if isinstance(headline, str) and headline:
            text = f"{headline}\n\n{text}"
        mail: dict[str, Any] = {"subject": str(options.get("subject") or "You have a notification!")}
        mail["html" if options.get("content_type") == "text/html" else "text"] = text
        if options.get("from"):
            mail["from"] = options["from"]
        for recipient in _recipients(options.get("recipients"), run):
            # one mail per recipient, as Huginn sends them: no recipient sees the others'
            # addresses; as there, a refusal stops the rest
            try:
                outputs = run_plugin(_plugin("mail.send"), {**mail, "to": [recipient]}, run.ctx)
            except AgentError as error:
                raise AgentError(f"Could not send the e-mail to {recipient}: {error}") from error
            run.log(f"Sent an e-mail to {recipient}.")
            if truthy(options.get("emit_events", False)):
                run.emit(outputs)


@register
class SlackAgent(AgentType):
    """Posts each message it receives to a Slack incoming webhook with `notify.slack`:
    `webhook_url`, `message`, `channel`, `username`, `icon` (an `:emoji:` or an image URL);
    `expected_update_period_in_days` is accepted and changes nothing."""

    name = "Agents::SlackAgent"
    aliases = ("SlackAgent",)
    schedulable = False
    url_options = ("webhook_url",)

    def option_problems(self, options: dict[str, Any]) -> list[str]:
        problems = []
        if not isinstance(options.get("webhook_url"), str) or not options["webhook_url"]:
            problems.append("'webhook_url' is required")
        if options.get("message") in (None, ""):
            problems.append("'message' is required")
        return problems

    def receive(self, run: AgentRun, options: dict[str, Any], payload: dict[str, Any]) -> None:
        inputs: dict[str, Any] = {"url": options.get("webhook_url"), "text": str(options.get("message", ""))}
        for option, name in (("channel", "channel"), ("username", "username")):
            if options.get(option):
                inputs[name] = str(options[option])
        icon = str(options.get("icon") or "")
        if icon:
            inputs["iconEmoji" if icon.startswith(":") else "iconUrl"] = icon
        run_plugin(_plugin("notify.slack"), inputs, run.ctx)
        run.log("Posted to Slack.")
