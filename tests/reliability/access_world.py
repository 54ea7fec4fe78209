"""The objects the access matrix and the schema tests act on: one namespace of the caller's
("production") and one of somebody else's ("elsewhere"), each with a flow, an execution,
a pending approval, a trigger, a credential, a KV entry, an agent and its message, a
namespace file and a file of the execution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from accounts.models import Account, Namespace
from accounts.roles import Role
from core import storage
from core.filerefs import execution_file_key, namespace_file_key, uri
from executions.models import ExecutionStatus, TaskStatus
from flows.models import Trigger
from tests.conftest import token_for
from tests.factories import (
    PASSWORD,
    AccountFactory,
    AgentFactory,
    ApprovalFactory,
    ExecutionFactory,
    FlowFactory,
    FlowRevisionFactory,
    KeyValueFactory,
    MembershipFactory,
    MessageFactory,
    NamespaceFactory,
    SecretFactory,
    TaskRunFactory,
    TriggerFactory,
)
from vault.models import Secret

ROLES = ("viewer", "executor", "editor", "admin")
FLOW_YAML = "name: {name}\ntasks:\n  - name: hello\n    type: util.log\n    properties:\n      message: Hello\n"
NODES_YAML = (
    'metadata:\n  name: {name}\n  version: "1"\nnodes:\n  start:\n    type: util.log\n    params: {{message: hi}}\n'
)


@dataclass
class Side:
    """The objects of one namespace, by the names the tables use in their paths and bodies."""

    values: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, key: str) -> str:
        return self.values[key]


def _secret(name: str, value: str, **owner: Any) -> Secret:
    return SecretFactory(name=name, value=value, **owner)


def _side(namespace: Namespace, owner: Account, tag: str) -> Side:
    flow = FlowFactory(namespace=namespace, name=f"flow-{tag}", source=FLOW_YAML.format(name=f"flow-{tag}"))
    FlowRevisionFactory(flow=flow, number=1, source=flow.source, created_by=owner)
    failed = ExecutionFactory(flow=flow, status=ExecutionStatus.FAILED, created_by=owner)
    waiting = ExecutionFactory(flow=flow, status=ExecutionStatus.WAITING, created_by=owner)
    gate = TaskRunFactory(
        execution=waiting, step_id="gate", name="gate", plugin_type="flow.pause", sequence=1, status=TaskStatus.WAITING
    )
    approval = ApprovalFactory(task_run=gate, execution=waiting)
    trigger = TriggerFactory(flow=flow, name=f"hook-{tag}", type=Trigger.Type.WEBHOOK, key=f"webhook-key-{tag}")
    schedule = TriggerFactory(flow=flow, name=f"daily-{tag}", type=Trigger.Type.SCHEDULE, cron="0 6 * * *")
    failed_run = TaskRunFactory(
        execution=failed, step_id="hello", name="hello", plugin_type="util.log", sequence=1, status=TaskStatus.FAILED
    )
    credential = _secret("API_TOKEN", "credential-value", namespace=namespace)
    KeyValueFactory(namespace=namespace, key="greeting", value="hi")
    agent = AgentFactory(namespace=namespace, name=f"agent-{tag}", type="util.echo")
    hook = AgentFactory(
        namespace=namespace, name=f"webhook-{tag}", type="WebhookAgent", options={"secret": f"hook-{tag}"}
    )
    message = MessageFactory(agent=agent, payload={"n": 1})
    member = AccountFactory(role=Role.VIEWER, default_namespace=namespace, username=f"member-{tag}")
    _secret("PERSONAL", "personal-value", account=member)
    guest = AccountFactory(role=Role.VIEWER, default_namespace=None, username=f"guest-{tag}")
    MembershipFactory(account=guest, namespace=namespace, role=Role.VIEWER)
    storage.delete_prefix(namespace.name)  # stored files outlive a rebuilt world's rows
    storage.put(namespace_file_key(namespace.name, "notes.txt"), f"notes-{tag}")
    report = execution_file_key(namespace.name, str(failed.pk), "outputs/report.txt")
    storage.put(report, f"report-{tag}")
    return Side(
        {
            "ns": namespace.name,
            "flow": str(flow.pk),
            "execution": str(failed.pk),
            "waiting": str(waiting.pk),
            "approval": str(approval.pk),
            "trigger": str(trigger.pk),
            "webhook": trigger.key or "",
            "schedule_trigger": str(schedule.pk),
            "failed_run": str(failed_run.pk),
            "credential": str(credential.pk),
            "agent": str(agent.pk),
            "hook_agent": str(hook.pk),
            "hook_secret": f"hook-{tag}",
            "message": str(message.uuid),
            "member": str(member.pk),
            "member_name": member.username,
            "guest": str(guest.pk),
            "execution_file": uri(report),
        }
    )


@dataclass
class World:
    own: Side
    other: Side
    accounts: dict[str, Account]

    def token(self, role: str) -> str | None:
        return None if role == "anonymous" else token_for(self.accounts[role])

    def username(self, role: str) -> str:
        return self.accounts[role].username if role in self.accounts else "nobody"


def build_world() -> World:
    """Accounts of each role in `production` (the admin by membership, so not a global admin)."""
    production = NamespaceFactory(name="production")
    elsewhere = NamespaceFactory(name="elsewhere")
    home = NamespaceFactory(name="admin-home")
    accounts = {role: AccountFactory(role=role, default_namespace=production, username=role) for role in ROLES[:3]}
    admin = AccountFactory(role=Role.EDITOR, default_namespace=home, username="admin")
    MembershipFactory(account=admin, namespace=production, role=Role.ADMIN)
    accounts["admin"] = admin
    stranger = AccountFactory(role=Role.EDITOR, default_namespace=elsewhere, username="stranger")
    return World(
        own=_side(production, accounts["editor"], "own"), other=_side(elsewhere, stranger, "other"), accounts=accounts
    )


__all__ = ["PASSWORD", "ROLES", "World", "build_world"]
