"""Concurrency limits in the nodes format (`metadata.concurrency`): a bad one is a 422 with its
line; a run beyond the limit stays queued (FlowRunner says `running`, as for every QUEUED run)."""

import pytest

from accounts.roles import Role
from executions.models import Execution, ExecutionStatus
from flows.models import Flow
from tests.api.flowrunner.test_auth import assert_flowrunner_error

BAD = """metadata:
  name: "Limited"
  concurrency:
    limit: -2
    behavior: later
nodes:
  start:
    type: flow.pause
"""


@pytest.mark.django_db
def test_a_bad_limit_or_behavior_in_metadata_is_422_with_lines(make_account, client_for):
    response = client_for(make_account(Role.EDITOR)).post("/api/v1/flows", {"definition": BAD}, format="json")
    assert_flowrunner_error(response, 422, "validation_error")
    problems = response.json()["error"]["details"]["errors"]
    assert [(p["path"], p["line"]) for p in problems] == [
        ("metadata.concurrency.limit", 4),
        ("metadata.concurrency.behavior", 5),
    ]
    assert not Flow.objects.exists()


def test_a_run_beyond_the_limit_waits_queued(settings, transactional_db, make_account, client_for):
    settings.MILLRACE_ENGINE_EAGER = True
    client = client_for(make_account(Role.EDITOR))
    good = BAD.replace("limit: -2", "limit: 1").replace("later", "QUEUE")
    flow = client.post("/api/v1/flows", {"definition": good}, format="json").json()
    runs = [client.post(f"/api/v1/flows/{flow['id']}/run", {}, format="json") for _ in range(2)]

    assert [run.status_code for run in runs] == [201, 201]
    first, second = (Execution.objects.get(pk=run.json()["execution_id"]) for run in runs)
    assert (first.status, second.status) == (ExecutionStatus.WAITING, ExecutionStatus.QUEUED)
    assert second.waiting_for_slot
