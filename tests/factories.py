"""factory-boy factories, one per model of the project's apps (tests/test_factories.py checks it).

A factory writes the row directly, without the service that would check roles, validate input and
record audit: tests use them to build the world a test needs. What a test exercises goes through
its service or API instead.
"""

import secrets
from typing import Any

import factory
from django.db.models import F
from factory.django import DjangoModelFactory

from accounts.models import Account, ApiToken, AuditEntry, Membership, Namespace
from accounts.roles import Role
from accounts.services import API_TOKEN_PREFIX, api_token_digest
from executions.models import (
    AgentLog,
    Approval,
    CallbackDelivery,
    Execution,
    ExecutionEvent,
    ExecutionLabel,
    Message,
    TaskRun,
    TaskStatus,
)
from flows.models import Agent, AgentLink, Flow, FlowRevision, Trigger
from vault.crypto import encrypt, secret_aad
from vault.models import KeyValue, Secret

PASSWORD = "correct-horse-battery"

SIMPLE_TASKS_YAML = "name: {name}\ntasks:\n  - name: hello\n    type: util.log\n    properties:\n      message: Hello\n"


# --- accounts ----------------------------------------------------------------------------------


class NamespaceFactory(DjangoModelFactory):
    class Meta:
        model = Namespace
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"ns{n}")


class AccountFactory(DjangoModelFactory):
    """An account with role `viewer` in its own default namespace; password `PASSWORD`."""

    class Meta:
        model = Account
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    name = factory.LazyAttribute(lambda o: o.username.title())
    role = Role.VIEWER
    default_namespace = factory.SubFactory(NamespaceFactory)
    is_staff = True

    @factory.post_generation
    def password(self, create: bool, extracted: str | None, **kwargs) -> None:
        self.set_password(extracted or PASSWORD)
        if create:
            self.save()


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    account = factory.SubFactory(AccountFactory)
    namespace = factory.SubFactory(NamespaceFactory)
    role = Role.VIEWER


class ApiTokenFactory(DjangoModelFactory):
    """A stored token; its raw value (the `raw` parameter) is not kept, as in `api_token_create`."""

    class Meta:
        model = ApiToken

    class Params:
        raw = factory.LazyFunction(lambda: API_TOKEN_PREFIX + secrets.token_urlsafe(32))

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"token-{n}")
    prefix = factory.LazyAttribute(lambda o: o.raw[:10])
    digest = factory.LazyAttribute(lambda o: api_token_digest(o.raw))


class AuditEntryFactory(DjangoModelFactory):
    class Meta:
        model = AuditEntry

    actor = None
    actor_name = factory.LazyAttribute(lambda o: o.actor.username if o.actor else "")
    action = "flow.create"
    resource_type = "flow"
    resource_id = factory.Sequence(str)
    namespace = ""


# --- flows -------------------------------------------------------------------------------------


class FlowFactory(DjangoModelFactory):
    class Meta:
        model = Flow

    namespace = factory.SubFactory(NamespaceFactory)
    name = factory.Sequence(lambda n: f"flow-{n}")
    source = factory.LazyAttribute(lambda o: SIMPLE_TASKS_YAML.format(name=o.name))
    format = Flow.Format.TASKS


class FlowRevisionFactory(DjangoModelFactory):
    """The stored revision of the flow's current source (number = the flow's revision)."""

    class Meta:
        model = FlowRevision

    flow = factory.SubFactory(FlowFactory)
    number = factory.LazyAttribute(lambda o: o.flow.revision)
    source = factory.LazyAttribute(lambda o: o.flow.source)


class TriggerFactory(DjangoModelFactory):
    """A webhook trigger with a generated key; pass `type` (and `cron`, `source_flow`) for the others."""

    class Meta:
        model = Trigger

    flow = factory.SubFactory(FlowFactory)
    type = Trigger.Type.WEBHOOK
    key = factory.Maybe(
        factory.LazyAttribute(lambda o: o.type == Trigger.Type.WEBHOOK),
        yes_declaration=factory.LazyFunction(lambda: secrets.token_urlsafe(24)),
        no_declaration=None,
    )


class AgentFactory(DjangoModelFactory):
    class Meta:
        model = Agent

    namespace = factory.SubFactory(NamespaceFactory)
    name = factory.Sequence(lambda n: f"agent-{n}")
    type = "util.echo"


class AgentLinkFactory(DjangoModelFactory):
    """`receiver` gets the messages of `source`; both in one namespace unless given."""

    class Meta:
        model = AgentLink

    source = factory.SubFactory(AgentFactory)
    receiver = factory.SubFactory(AgentFactory, namespace=factory.SelfAttribute("..source.namespace"))


# --- executions --------------------------------------------------------------------------------


class ExecutionFactory(DjangoModelFactory):
    class Meta:
        model = Execution

    flow = factory.SubFactory(FlowFactory)
    flow_name = factory.LazyAttribute(lambda o: o.flow.name)
    namespace = factory.LazyAttribute(lambda o: o.flow.namespace)
    source = factory.LazyAttribute(lambda o: o.flow.source)


class ExecutionLabelFactory(DjangoModelFactory):
    """One index row of a label; the execution's `labels` map is the caller's to set."""

    class Meta:
        model = ExecutionLabel

    execution = factory.SubFactory(ExecutionFactory)
    key = factory.Sequence(lambda n: f"key-{n}")
    value = "value"


class TaskRunFactory(DjangoModelFactory):
    class Meta:
        model = TaskRun

    execution = factory.SubFactory(ExecutionFactory)
    step_id = factory.Sequence(lambda n: f"step-{n}")
    name = factory.LazyAttribute(lambda o: o.step_id)
    plugin_type = "util.log"
    sequence = factory.Sequence(lambda n: n + 1)


class ExecutionEventFactory(DjangoModelFactory):
    class Meta:
        model = ExecutionEvent

    execution = factory.SubFactory(ExecutionFactory)
    task_run = None
    type = "log"
    message = factory.Sequence(lambda n: f"event {n}")


class ApprovalFactory(DjangoModelFactory):
    """A pending approval of a waiting `flow.pause` step; its execution is the step's.

    For an approval in a given execution pass `task_run__execution=execution`.
    """

    class Meta:
        model = Approval

    task_run = factory.SubFactory(TaskRunFactory, plugin_type="flow.pause", status=TaskStatus.WAITING)
    execution = factory.LazyAttribute(lambda o: o.task_run.execution)


class CallbackDeliveryFactory(DjangoModelFactory):
    class Meta:
        model = CallbackDelivery

    execution = factory.SubFactory(ExecutionFactory)
    url = factory.Sequence(lambda n: f"https://caller.example.com/callbacks/{n}")
    body = factory.LazyFunction(lambda: {"status": "SUCCESS"})


class MessageFactory(DjangoModelFactory):
    """A stored message; its agent's `messages_count` counts it, as emission would."""

    class Meta:
        model = Message

    agent = factory.SubFactory(AgentFactory)
    payload = factory.LazyFunction(dict)

    @classmethod
    def _create(cls, model_class: type[Message], *args: Any, **kwargs: Any) -> Message:
        message = super()._create(model_class, *args, **kwargs)
        Agent.objects.filter(pk=message.agent_id).update(messages_count=F("messages_count") + 1)
        return message


class AgentLogFactory(DjangoModelFactory):
    class Meta:
        model = AgentLog

    agent = factory.SubFactory(AgentFactory)
    text = factory.Sequence(lambda n: f"log line {n}")


# --- vault -------------------------------------------------------------------------------------


class SecretFactory(DjangoModelFactory):
    """A secret sealed with the current key; `value` is its plaintext. A namespace owns it unless
    an `account` is given."""

    class Meta:
        model = Secret

    class Params:
        value = "secret-value"
        sealed = factory.LazyAttribute(
            lambda o: encrypt(o.value, aad=secret_aad(Secret(name=o.name, namespace=o.namespace, account=o.account)))
        )

    account = None
    namespace = factory.Maybe("account", yes_declaration=None, no_declaration=factory.SubFactory(NamespaceFactory))
    name = factory.Sequence(lambda n: f"SECRET_{n}")
    ciphertext = factory.LazyAttribute(lambda o: o.sealed[0])
    nonce = factory.LazyAttribute(lambda o: o.sealed[1])
    key_id = factory.LazyAttribute(lambda o: o.sealed[2])


class KeyValueFactory(DjangoModelFactory):
    class Meta:
        model = KeyValue

    namespace = factory.SubFactory(NamespaceFactory)
    key = factory.Sequence(lambda n: f"key-{n}")
    value = factory.Sequence(lambda n: {"n": n})
