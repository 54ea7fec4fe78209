"""Both directions at once: a flow's `connector.call` runs `millrace/RunFlow` on Millrace itself.

The child flow's end PUTs the envelope back to the parent's callback URL (live server, eager engine).
With the eager engine the child ends, and calls back, before the proxy has answered 202: this
exercises the engine's early-callback path.
"""

import pytest

from accounts.roles import Role
from executions.models import Execution, ExecutionStatus
from executions.services import execution_start
from tests.conftest import token_for
from tests.factories import AccountFactory, FlowFactory

CHILD = """
name: child
tasks:
  - name: double
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
      parameters: {{"namespace": "production", "flow_name": "child", "inputs": {{"n": 21}}}}
  - name: after
    type: util.echo
    properties:
      value: "{{{{ outputs.remote.double.value }}}}"
"""


@pytest.mark.django_db(transaction=True)
def test_a_flow_runs_a_flow_through_the_proxy_and_its_callback(live_server, settings, namespace) -> None:
    settings.MILLRACE_ENGINE_EAGER = True
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.MILLRACE_PUBLIC_URL = live_server.url
    account = AccountFactory(role=Role.ADMIN, default_namespace=namespace)
    FlowFactory(namespace=namespace, name="child", source=CHILD, created_by=account)
    parent = FlowFactory(
        namespace=namespace,
        name="parent",
        source=PARENT.format(base=live_server.url, token=token_for(account)),
        created_by=account,
    )
    execution = execution_start(actor=account, flow=parent)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCESS, execution.error
    child = Execution.objects.get(flow__name="child")
    assert child.status == ExecutionStatus.SUCCESS
    assert child.trigger_data["spiffCallbackUrl"].startswith(f"{live_server.url}/v1/callbacks/")
    assert execution.outputs == {"remote": {"double": {"value": 21}}, "after": 21}
