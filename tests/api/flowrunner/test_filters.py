"""FlowRunner's list filters (api/flowrunner/filters.py): its words, its messages, the caller's scope."""

from accounts.roles import Role
from executions.models import ExecutionStatus as E
from tests.api.flowrunner.test_auth import assert_flowrunner_error
from tests.factories import FlowFactory


def test_status_words_match_their_core_statuses_in_any_case(make_account, client_for, make_execution):
    client = client_for(make_account(Role.VIEWER))
    for status in (E.QUEUED, E.RUNNING, E.WAITING, E.PAUSED, E.TIMED_OUT):
        make_execution(status=status)
    assert client.get("/api/v1/executions?status=running").json()["total"] == 3
    assert client.get("/api/v1/executions?status=Running&limit=1").json()["total"] == 3
    assert client.get("/api/v1/executions?status=failed").json()["total"] == 1  # TIMED_OUT reads as failed
    assert client.get("/api/v1/executions?status=").json()["total"] == 5


def test_a_bad_filter_keeps_its_message_and_details(make_account, client_for):
    client = client_for(make_account(Role.VIEWER))
    response = client.get("/api/v1/executions?status=%20running")
    assert_flowrunner_error(response, 400, "invalid_request")
    assert response.json()["error"]["message"] == (
        "Unknown status ' running'; use one of running, paused, completed, failed, cancelled."
    )
    assert response.json()["error"]["details"] == {"field": "status", "reason": "unknown status"}
    response = client.get("/api/v1/executions?flow_id=nope&status=nope")
    assert response.json()["error"]["message"] == "flow_id must be a UUID."
    assert response.json()["error"]["details"] == {"field": "flow_id", "reason": "not a UUID"}


def test_filters_never_widen_the_callers_scope(make_account, client_for, make_execution, other_namespace):
    client = client_for(make_account(Role.VIEWER))
    hidden = FlowFactory(namespace=other_namespace, tags=["production"])
    make_execution(flow=hidden)
    make_execution()
    assert client.get(f"/api/v1/executions?flow_id={hidden.id}").json()["total"] == 0
    assert client.get("/api/v1/executions").json()["total"] == 1
    assert str(hidden.id) not in {f["id"] for f in client.get("/api/v1/flows?tag=production").json()["flows"]}
