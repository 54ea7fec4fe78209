"""FlowRunner fixtures: a nodes-format definition, flows and executions in a namespace."""

from collections.abc import Callable

import pytest

from accounts.models import Account, Namespace
from executions.models import Execution
from flows.models import Flow
from tests.factories import ExecutionFactory, FlowFactory
from vault.crypto import generate_key

CREDENTIALS_KEY = generate_key()

NODES_YAML = """metadata:
  name: "{name}"
  description: "A simple flow"
  version: "{version}"

nodes:
  start:
    type: util.log
    params:
      message: "Hello {{{{ inputs.get('who', 'world') }}}}"
    next:
      default: end
  end:
    type: util.echo
    params:
      value:
        output: "{{{{ inputs.get('key', 'none') }}}}"
"""


def nodes_yaml(name: str = "My Flow", version: str = "1.0.0") -> str:
    return NODES_YAML.format(name=name, version=version)


@pytest.fixture(autouse=True)
def credentials_key(settings) -> None:
    """Secrets are encrypted; production refuses to run without a key."""
    settings.MILLRACE_CREDENTIALS_KEY = CREDENTIALS_KEY


@pytest.fixture
def make_flow(namespace: Namespace) -> Callable[..., Flow]:
    """A saved nodes-format flow (written directly, as the services would)."""

    def make(name: str = "My Flow", ns: Namespace | None = None, owner: Account | None = None, **kwargs) -> Flow:
        kwargs.setdefault("tags", ["production"])
        return FlowFactory(
            namespace=ns or namespace,
            name=name,
            source=nodes_yaml(name),
            format=Flow.Format.NODES,
            version="1.0.0",
            created_by=owner,
            **kwargs,
        )

    return make


@pytest.fixture
def make_execution(make_flow) -> Callable[..., Execution]:
    def make(flow: Flow | None = None, **kwargs) -> Execution:
        flow = flow or make_flow(name=f"flow-{Execution.objects.count()}")
        return ExecutionFactory(flow=flow, **kwargs)

    return make
