"""factory-boy factories for the core models."""

import factory
from factory.django import DjangoModelFactory

from accounts.models import Account, Membership, Namespace
from accounts.roles import Role
from executions.models import Execution
from flows.models import Agent, Flow

PASSWORD = "correct-horse-battery"

SIMPLE_TASKS_YAML = "name: {name}\ntasks:\n  - name: hello\n    type: util.log\n    properties:\n      message: Hello\n"


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


class FlowFactory(DjangoModelFactory):
    class Meta:
        model = Flow

    namespace = factory.SubFactory(NamespaceFactory)
    name = factory.Sequence(lambda n: f"flow-{n}")
    source = factory.LazyAttribute(lambda o: SIMPLE_TASKS_YAML.format(name=o.name))
    format = Flow.Format.TASKS


class ExecutionFactory(DjangoModelFactory):
    class Meta:
        model = Execution

    flow = factory.SubFactory(FlowFactory)
    flow_name = factory.LazyAttribute(lambda o: o.flow.name)
    namespace = factory.LazyAttribute(lambda o: o.flow.namespace)
    source = factory.LazyAttribute(lambda o: o.flow.source)


class AgentFactory(DjangoModelFactory):
    class Meta:
        model = Agent

    namespace = factory.SubFactory(NamespaceFactory)
    name = factory.Sequence(lambda n: f"agent-{n}")
    type = "util.echo"
