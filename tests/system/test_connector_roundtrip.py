"""A flow's `connector.call` runs `millrace/RunFlow` on a real Millrace server and completes through
the real callback: uvicorn serves the proxy, django-q2 workers run both flows and PUT the callback."""

import time

import pytest

from accounts.roles import Role
from executions.models import Execution, ExecutionStatus, TaskRun
from executions.services import execution_start
from tests.conftest import token_for
from tests.factories import AccountFactory, FlowFactory
from tests.system.conftest import wait_until

pytestmark = pytest.mark.services

CHILD = """
name: child
tasks:
  - name: answer
    type: data.transform
    properties:
      data: {"n": "{{ inputs.n }}"}
      expression: "n"
"""
PARENT = """
name: parent
tasks:
  - name: remote
    type: connector.call
    properties:
      baseUrl: "{base}"
      command: millrace/RunFlow
      headers: {{"Authorization": "Bearer {token}"}}
      parameters: {{"namespace": "{namespace}", "flow_name": "child", "inputs": {{"n": 21}}}}
  - name: after
    type: util.echo
    properties:
      value: "{{{{ outputs.remote.answer.value }}}}"
"""


def test_a_flow_runs_a_flow_on_millrace_through_the_real_callback(server, workers, namespace) -> None:
    workers.start(MILLRACE_PUBLIC_URL=server)
    account = AccountFactory(role=Role.ADMIN, default_namespace=namespace)
    FlowFactory(namespace=namespace, name="child", source=CHILD, created_by=account)
    parent = FlowFactory(
        namespace=namespace,
        name="parent",
        created_by=account,
        source=PARENT.format(base=server, token=token_for(account), namespace=namespace.name),
    )
    started = time.monotonic()
    execution = execution_start(actor=account, flow=parent)

    def ended() -> bool:
        execution.refresh_from_db()
        return execution.is_terminal

    wait_until(ended, 60, "the parent execution")
    assert execution.status == ExecutionStatus.SUCCESS, execution.error
    assert execution.outputs == {"remote": {"answer": {"value": 21}}, "after": 21}
    child = Execution.objects.get(flow__name="child", namespace=namespace)
    assert child.status == ExecutionStatus.SUCCESS
    assert child.origin == "connector"
    assert child.trigger_data["spiffCallbackUrl"].startswith(f"{server}/v1/callbacks/")
    remote = TaskRun.objects.get(execution=execution, name="remote")
    assert remote.attempt == 1  # completed by the callback, not by a retry
    assert time.monotonic() - started < 60
