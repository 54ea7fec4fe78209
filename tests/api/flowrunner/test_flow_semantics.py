"""FlowRunner: a WARNING execution reads `completed` (and the `completed` filter finds it);
declared outputs are the `result`; `allow_failure` on a node."""

import pytest

from accounts.roles import Role
from executions.models import ExecutionStatus as E
from tests.factories import FlowFactory

GRAPH = """metadata:
  name: graph
nodes:
  start:
    type: util.echo
    allow_failure: true
    params: {value: "{{ outputs.nothing }}"}
    next: end
  end:
    type: util.echo
    params: {value: {n: "{{ inputs.n }}", secretish: internal}}
outputs:
  - {id: n, type: INT, value: "{{ outputs.end.n }}"}
"""


@pytest.fixture
def eager(settings, transactional_db) -> None:
    settings.MILLRACE_ENGINE_EAGER = True


def test_a_warning_run_reads_completed_with_the_declared_result(eager, make_account, client_for, namespace):
    account = make_account(Role.EXECUTOR)
    flow = FlowFactory(namespace=namespace, name="graph", source=GRAPH, format="nodes", created_by=account)
    client = client_for(account)
    run = client.post(f"/api/v1/flows/{flow.id}/run", {"input": {"n": "5"}}, format="json")
    assert run.status_code == 201, run.content
    execution_id = run.json()["execution_id"]
    body = client.get(f"/api/v1/executions/{execution_id}").json()
    assert body["status"] == "completed" and body["result"] == {"n": 5}
    assert flow.executions.get().status == E.WARNING
    listed = client.get("/api/v1/executions?status=completed").json()
    assert [item["id"] for item in listed["executions"]] == [execution_id]
    assert client.get("/api/v1/executions?status=failed").json()["total"] == 0
