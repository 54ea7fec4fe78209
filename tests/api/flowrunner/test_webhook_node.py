"""FlowRunner `webhook` node: without `body` it POSTs the previous node's outputs as JSON (DIALECTS.md)."""

import json
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from accounts.roles import Role
from executions.models import Execution, ExecutionStatus

pytestmark = pytest.mark.django_db(transaction=True)

FLOW = """metadata:
  name: "Notify"
nodes:
  start:
    type: util.echo
    params:
      value:
        order: 7
        items: ["a", "b"]
        note: "{{{{ inputs.get('note', 'none') }}}}"
    next: notify
  notify:
    type: webhook
    params:
      url: "{url}"{extra}
"""

FIRST = """metadata:
  name: "Notify first"
nodes:
  notify:
    type: webhook
    params:
      url: "{url}"
"""


@pytest.fixture(autouse=True)
def eager_loopback(settings) -> None:
    settings.MILLRACE_ENGINE_EAGER = True
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["127.0.0.1/32"]


@pytest.fixture
def run_flow(make_account, client_for):
    client = client_for(make_account(Role.EDITOR))

    def run(definition: str, inputs: dict[str, Any]) -> Execution:
        created = client.post("/api/v1/flows", {"definition": definition}, format="json")
        assert created.status_code == 201, created.content
        started = client.post(f"/api/v1/flows/{created.json()['id']}/run", {"input": inputs}, format="json")
        assert started.status_code == 201, started.content
        execution = Execution.objects.get(pk=started.json()["execution_id"])
        assert execution.status == ExecutionStatus.SUCCESS, execution.error
        return execution

    return run


def received(httpserver: HTTPServer) -> Any:
    request = httpserver.log[0][0]
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/json"
    return json.loads(request.get_data())


def test_without_body_the_previous_nodes_outputs_are_posted_as_json(httpserver: HTTPServer, run_flow):
    httpserver.expect_request("/hook", method="POST").respond_with_json({"ok": True})
    run_flow(FLOW.format(url=httpserver.url_for("/hook"), extra=""), {"note": "hi"})
    assert received(httpserver) == {"order": 7, "items": ["a", "b"], "note": "hi"}


def test_a_given_body_wins(httpserver: HTTPServer, run_flow):
    httpserver.expect_request("/hook", method="POST").respond_with_json({"ok": True})
    extra = '\n      body: {only: "{{ outputs.start.order }}"}'
    run_flow(FLOW.format(url=httpserver.url_for("/hook"), extra=extra), {})
    assert received(httpserver) == {"only": 7}


def test_the_first_node_posts_the_runs_inputs(httpserver: HTTPServer, run_flow):
    httpserver.expect_request("/hook", method="POST").respond_with_json({"ok": True})
    run_flow(FIRST.format(url=httpserver.url_for("/hook")), {"key": "value"})
    assert received(httpserver) == {"key": "value"}
