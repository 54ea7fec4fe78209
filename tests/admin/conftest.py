"""Two tenants with one of everything each, and accounts of each kind of console user.

Object names carry the tenant ("...-in-a", "...-in-b"), so a page that leaks a row of the
other tenant shows its name.
"""

from dataclasses import dataclass

import pytest

from accounts.models import Account, Membership, Namespace
from accounts.roles import Role
from executions.models import Approval, Execution, ExecutionEvent, Message, TaskRun
from flows.models import Agent, Flow, FlowRevision, Trigger
from tests.factories import (
    AccountFactory,
    AgentFactory,
    ApprovalFactory,
    ExecutionEventFactory,
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
from vault.models import KeyValue, Secret


@dataclass
class Tenant:
    namespace: Namespace
    flow: Flow
    revision: FlowRevision
    trigger: Trigger
    agent: Agent
    message: Message
    execution: Execution
    task_run: TaskRun
    event: ExecutionEvent
    approval: Approval
    secret: Secret
    kv: KeyValue
    account: Account
    membership: Membership


def make_tenant(letter: str) -> Tenant:
    namespace = NamespaceFactory(name=f"space-{letter}")
    flow = FlowFactory(namespace=namespace, name=f"flow-in-{letter}", description=f"does {letter} things")
    execution = ExecutionFactory(flow=flow)
    task_run = TaskRunFactory(
        execution=execution, step_id="hello", name=f"task-in-{letter}", plugin_type="util.log", sequence=1
    )
    agent = AgentFactory(namespace=namespace, name=f"agent-in-{letter}")
    account = AccountFactory(username=f"user-in-{letter}", default_namespace=namespace)
    member = AccountFactory(username=f"member-of-{letter}")
    return Tenant(
        namespace=namespace,
        flow=flow,
        revision=FlowRevisionFactory(flow=flow, number=1, source=flow.source),
        trigger=TriggerFactory(flow=flow, name=f"trigger-in-{letter}", type="webhook", key=f"hook-key-{letter}"),
        agent=agent,
        message=MessageFactory(agent=agent, payload={"text": f"message-in-{letter}"}),
        execution=execution,
        task_run=task_run,
        event=ExecutionEventFactory(execution=execution, type="log", message=f"event-in-{letter}"),
        approval=ApprovalFactory(task_run=task_run, execution=execution, comment=f"approval-in-{letter}"),
        secret=SecretFactory(
            namespace=namespace, name=f"secret-in-{letter}", ciphertext=b"CIPHERTEXT-BYTES", nonce=b"NONCE-BYTES!"
        ),
        kv=KeyValueFactory(namespace=namespace, key=f"kv-in-{letter}", value={"n": 1}),
        account=account,
        membership=MembershipFactory(account=member, namespace=namespace, role=Role.VIEWER),
    )


@pytest.fixture
def tenant_a(db) -> Tenant:
    return make_tenant("a")


@pytest.fixture
def tenant_b(db) -> Tenant:
    return make_tenant("b")


@pytest.fixture
def global_admin(db) -> Account:
    """A global admin by role, not a superuser."""
    return AccountFactory(username="global-root", role=Role.ADMIN, default_namespace=NamespaceFactory(name="ops"))


@pytest.fixture
def superuser(db) -> Account:
    return AccountFactory(username="super-root", role=Role.ADMIN, is_superuser=True, default_namespace=None)


@pytest.fixture
def ns_admin(tenant_a: Tenant) -> Account:
    """A viewer in its own default namespace, and admin of namespace A through a membership."""
    account = AccountFactory(username="ns-admin", default_namespace=NamespaceFactory(name="home-of-admin"))
    MembershipFactory(account=account, namespace=tenant_a.namespace, role=Role.ADMIN)
    return account


@pytest.fixture
def viewer_a(tenant_a: Tenant) -> Account:
    return AccountFactory(username="viewer-a", role=Role.VIEWER, default_namespace=tenant_a.namespace)


@pytest.fixture
def editor_a(tenant_a: Tenant) -> Account:
    return AccountFactory(username="editor-a", role=Role.EDITOR, default_namespace=tenant_a.namespace)
