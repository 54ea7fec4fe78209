"""GET /workflows/{id} and POST /workflows: the seed's run shape, nsfilter and error statuses.

These run without the eager engine: a created run stays QUEUED, as in the seed's example.
"""

import re
import uuid

import pytest

from accounts.roles import Role
from executions.models import Execution
from tests.api.workflowsvc.conftest import SEED_NS, error_of, url
from tests.factories import ExecutionFactory, MembershipFactory, NamespaceFactory, TaskRunFactory

pytestmark = pytest.mark.django_db
SPOTIFY = {"_url": "https://api.spotify.com/v1/artists/0TnOYISbd1XYRBk9myaseg"}
RUN_FIELDS = [
    "_id",
    "_workflowDefId",
    "_name",
    "_namespaces",
    "_userType",
    "_tasks",
    "_timeoutSeconds",
    "_timeoutPolicy",
    "_status",
    "_createdAt",
    "_updatedAt",
    "_createdBy",
    "_updatedBy",
    "_inputParams",
    "_output",
    "_labels",
]
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")

TIMED = """
name: timed
timeout: 30
timeoutPolicy: ALERT_ONLY
tasks:
  - name: hello
    type: util.log
    properties: {message: hi}
"""


def test_create_runs_the_definition_and_answers_201_in_the_seed_shape(api, make_flow, caller):
    flow = make_flow(name="rest_connector_workflow")
    response = api.post(url(), {"_workflowDefId": str(flow.pk), "_inputParams": SPOTIFY}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert list(body) == RUN_FIELDS
    execution = Execution.objects.get()
    assert body["_id"] == str(execution.pk)
    assert body["_workflowDefId"] == str(flow.pk)
    assert body["_name"] == "rest_connector_workflow"
    assert body["_namespaces"] == [SEED_NS]
    assert body["_userType"] == Role.EXECUTOR
    assert body["_tasks"] == []  # no step has been scheduled yet: no engine ran in this test
    assert (body["_timeoutSeconds"], body["_timeoutPolicy"]) == (None, None)
    assert body["_status"] == "QUEUED"
    assert ISO_Z.match(body["_createdAt"]) and ISO_Z.match(body["_updatedAt"])
    assert body["_createdBy"] == body["_updatedBy"] == str(caller.pk)
    assert body["_inputParams"] == SPOTIFY
    assert body["_output"] is None


def test_create_without_input_params(api, make_flow):
    response = api.post(url(), {"_workflowDefId": str(make_flow().pk)}, format="json")
    assert response.status_code == 201
    assert response.json()["_inputParams"] == {}


@pytest.mark.parametrize(
    "body",
    [{}, {"_inputParams": SPOTIFY}, {"_workflowDefId": ""}, {"_workflowDefId": "x", "_inputParams": [1]}],
)
def test_create_with_a_bad_body_is_400(api, body):
    response = api.post(url(), body, format="json")
    assert response.status_code == 400
    assert error_of(response)["_code"] == "invalid_request"


def test_create_with_malformed_json_is_400(api):
    response = api.post(url(), "{nope", content_type="application/json")
    assert response.status_code == 400 and error_of(response)["_code"] == "invalid_request"


def test_create_of_an_unknown_definition_is_404(api, make_flow, make_account):
    for def_id in (str(uuid.uuid4()), "not-a-uuid"):
        response = api.post(url(), {"_workflowDefId": def_id}, format="json")
        assert response.status_code == 404 and error_of(response)["_code"] == "not_found"
    hidden = make_flow(namespace=NamespaceFactory(name="hidden"))  # exists, but unreadable: the same 404
    assert api.post(url(), {"_workflowDefId": str(hidden.pk)}, format="json").status_code == 404


def test_create_of_a_definition_outside_nsfilter_is_403(api, caller, make_flow):
    other = NamespaceFactory(name="team-b")
    MembershipFactory(account=caller, namespace=other, role=Role.EXECUTOR)
    flow = make_flow(namespace=other)
    response = api.post(url(), {"_workflowDefId": str(flow.pk)}, format="json")
    assert response.status_code == 403 and error_of(response)["_code"] == "forbidden"
    assert api.post(url(nsfilter="team-b"), {"_workflowDefId": str(flow.pk)}, format="json").status_code == 201


def test_create_needs_the_executor_role(client_for, make_account, seed_ns, make_flow):
    viewer = make_account(Role.VIEWER, namespace=seed_ns)
    response = client_for(viewer).post(url(), {"_workflowDefId": str(make_flow().pk)}, format="json")
    assert response.status_code == 403
    assert not Execution.objects.exists()


def test_create_and_status_need_nsfilter(api, make_flow):
    flow = make_flow()
    response = api.post("/workflowsvc/api/v1/workflows", {"_workflowDefId": str(flow.pk)}, format="json")
    assert response.status_code == 400 and error_of(response)["_details"]["field"] == "nsfilter"
    response = api.put(f"/workflowsvc/api/v1/workflows/{uuid.uuid4()}/status", {"_status": "PAUSED"}, format="json")
    assert response.status_code == 400


def test_timeout_and_policy_come_from_the_definition(api, make_flow):
    flow = make_flow(TIMED, name="timed")
    body = api.post(url(), {"_workflowDefId": str(flow.pk)}, format="json").json()
    assert (body["_timeoutSeconds"], body["_timeoutPolicy"]) == (30, "ALERT_ONLY")
    again = api.get(url(f"/{body['_id']}")).json()
    assert (again["_timeoutSeconds"], again["_timeoutPolicy"]) == (30, "ALERT_ONLY")


def test_get_returns_every_field_of_the_seed_example(api, make_flow, caller):
    flow = make_flow(name="rest_connector_workflow")
    created = api.post(url(), {"_workflowDefId": str(flow.pk), "_inputParams": SPOTIFY}, format="json").json()
    execution = Execution.objects.get(pk=created["_id"])
    task = TaskRunFactory(
        execution=execution, step_id="REST_CONNECTOR", name="REST_CONNECTOR", plugin_type="REST_CONNECTOR", sequence=1
    )
    response = api.get(url(f"/{execution.pk}", _includeLoopOverTasks="false"))
    assert response.status_code == 200
    body = response.json()
    assert list(body) == RUN_FIELDS
    assert body["_tasks"] == [
        {
            "_id": str(task.pk),
            "_name": "REST_CONNECTOR",
            "_sequenceno": 1,
            "_type": "REST_CONNECTOR",
            "_status": "QUEUED",
        }
    ]
    assert {k: v for k, v in body.items() if k not in ("_tasks", "_updatedAt")} == {
        k: v for k, v in created.items() if k not in ("_tasks", "_updatedAt")
    }


def test_loop_over_tasks_only_when_asked(api, make_flow):
    execution = ExecutionFactory(flow=make_flow())
    loop = TaskRunFactory(execution=execution, step_id="each", name="each", plugin_type="flow.forEach", sequence=1)
    for index in range(2):
        TaskRunFactory(
            execution=execution,
            parent=loop,
            step_id="call",
            name="call",
            plugin_type="REST_CONNECTOR",
            sequence=2 + index,
            loop_index=index,
        )
    TaskRunFactory(execution=execution, step_id="end", name="end", plugin_type="util.log", sequence=4)

    def names(**query: str) -> list[tuple[str, int]]:
        response = api.get(url(f"/{execution.pk}", **query))
        assert response.status_code == 200
        return [(task["_name"], task["_sequenceno"]) for task in response.json()["_tasks"]]

    assert names() == [("each", 1), ("end", 4)]
    assert names(_includeLoopOverTasks="false") == [("each", 1), ("end", 4)]
    assert names(_includeLoopOverTasks="true") == [("each", 1), ("call", 2), ("call", 3), ("end", 4)]
    assert api.get(url(f"/{execution.pk}", _includeLoopOverTasks="maybe")).status_code == 400


def test_get_outside_nsfilter_is_404_and_an_unreadable_filter_403(api, caller, make_flow):
    other = NamespaceFactory(name="team-b")
    MembershipFactory(account=caller, namespace=other, role=Role.VIEWER)
    execution = ExecutionFactory(flow=make_flow())
    assert api.get(url(f"/{execution.pk}")).status_code == 200
    response = api.get(url(f"/{execution.pk}", nsfilter="team-b"))
    assert response.status_code == 404 and error_of(response)["_code"] == "not_found"
    NamespaceFactory(name="secret-team")
    assert api.get(url(f"/{execution.pk}", nsfilter=f"{SEED_NS},secret-team")).status_code == 403
    assert api.get(url(f"/{uuid.uuid4()}")).status_code == 404
    assert api.get(url("/not-a-uuid")).status_code == 404
    hidden = ExecutionFactory(flow=make_flow(namespace=NamespaceFactory(name="hidden")))
    assert api.get(url(f"/{hidden.pk}")).status_code == 404


def test_seed_spelling_without_slash_is_not_served(api):
    # The seed prints `workflows{id}/status`; only the slashed form exists (DIALECTS.md).
    response = api.put(url(f"{uuid.uuid4()}/status"), {"_status": "PAUSED"}, format="json")
    assert response.status_code == 404
    assert error_of(response)["_code"] == "not_found"
