"""What a plugin and a template see while an agent runs: logging, KV, secrets of its namespace."""

from __future__ import annotations

import logging
from typing import Any

from connectors.files import FileAccess
from flows.models import Agent
from vault.selectors import kv_value, secret_value
from vault.services import kv_delete, kv_put

logger = logging.getLogger("millrace.agents")
MAX_LOG_LINES = 50


class AgentResolver:
    """`secret()`/`${NAME}` and `kv()` in options: the namespace's credentials, then the account
    secrets of whoever last saved the options.

    Not the agent's creator: an editor who changes someone else's agent must not reach that
    person's secrets (saving checks `${NAME}` against the saver's own), as flows use the author
    of their running revision. A saver whose account is gone leaves the namespace's credentials.
    """

    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    def secret(self, name: str) -> str:
        return secret_value(name=name, namespace_id=self.agent.namespace_id, account_id=self.agent.options_saved_by_id)

    def kv(self, key: str) -> Any:
        return kv_value(namespace_id=self.agent.namespace_id, key=key)


class AgentContext(FileAccess):
    """The `PluginContext` of one agent run. Logs go to the `millrace.agents` logger and are kept
    on the context (the last few lines) so a failure can say what happened."""

    execution_id: str | None = None
    callback_url: str | None = None
    deadline: float | None = None

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.namespace = agent.namespace.name
        self.task_name = agent.name
        self.state: dict[str, Any] = {}
        self.lines: list[str] = []
        self.used_secrets: set[str] = set()
        self._resolver = AgentResolver(agent)

    def log(self, level: str, message: str, data: dict[str, Any] | None = None) -> None:
        numeric = {"debug": logging.DEBUG, "warn": logging.WARNING, "error": logging.ERROR}.get(level, logging.INFO)
        logger.log(numeric, "agent %s (%s): %s", self.agent.name, self.agent.pk, message)
        self.lines = [*self.lines[-(MAX_LOG_LINES - 1) :], f"{level}: {message}"]

    def kv_get(self, key: str) -> Any:
        try:
            return kv_value(namespace_id=self.agent.namespace_id, key=key)
        except LookupError:
            return None

    def kv_set(self, key: str, value: Any, ttl: int | None = None) -> None:
        kv_put(namespace_id=self.agent.namespace_id, key=key, value=value, ttl=ttl)

    def kv_delete(self, key: str) -> bool:
        return kv_delete(namespace_id=self.agent.namespace_id, key=key)

    def secret(self, name: str) -> str:
        value = self._resolver.secret(name)
        self.used_secrets.add(value)
        return value

    def is_cancelled(self) -> bool:
        return False
