"""FlowRunner flows: shapes against the seed, validation, revisions, delete, run, roles, isolation."""

import pytest

from accounts.roles import Role
from executions.models import Execution, ExecutionStatus
from flows.models import Flow
from tests.api.flowrunner.conftest import nodes_yaml
from tests.api.flowrunner.test_auth import assert_flowrunner_error
from tests.factories import AccountFactory, FlowRevisionFactory, NamespaceFactory

pytestmark = pytest.mark.django_db

FLOW_FIELDS = {"id", "name", "description", "version", "created_at", "updated_at", "tags"}
BAD_DEFINITION = """metadata:
  name: bad
nodes:
  start:
    type: no.such.plugin
    next: nowhere
  other:
    type: util.log
    params: {}
"""


def create_body(name: str = "My Flow", version: str = "1.0.0", **extra) -> dict:
    return {"name": name, "description": "A simple flow", "definition": nodes_yaml(name, version), **extra}


@pytest.mark.parametrize("prefix", ["", "/flowrunner"])
def test_list_shape_matches_the_seed(make_account, client_for, make_flow, prefix):
    make_flow("One")
    make_flow("Two", tags=["development"])
    response = client_for(make_account(Role.VIEWER)).get(f"{prefix}/api/v1/flows")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"flows", "total", "limit", "offset"}
    assert (body["total"], body["limit"], body["offset"]) == (2, 10, 0)
    first = body["flows"][0]
    assert set(first) == FLOW_FIELDS
    assert (first["name"], first["description"], first["version"], first["tags"]) == (
        "One",
        "",
        "1.0.0",
        ["production"],
    )
    assert first["created_at"].endswith("Z") and first["updated_at"].endswith("Z")


def test_list_filters_by_tag_and_paginates(make_account, client_for, make_flow):
    for index in range(5):
        make_flow(f"flow-{index}", tags=["production"] if index % 2 else ["development", "x"])
    client = client_for(make_account())
    production = client.get("/api/v1/flows?tag=production").json()
    assert production["total"] == 2 and {f["name"] for f in production["flows"]} == {"flow-1", "flow-3"}
    assert client.get("/api/v1/flows?tag=nothing").json()["flows"] == []
    page = client.get("/api/v1/flows?limit=2&offset=3").json()
    assert (page["total"], page["limit"], page["offset"], len(page["flows"])) == (5, 2, 3, 2)
    assert client.get("/api/v1/flows?offset=50").json()["flows"] == []
    assert client.get("/api/v1/flows?limit=100000").json()["limit"] == 1000
    assert_flowrunner_error(client.get("/api/v1/flows?limit=x"), 400, "invalid_request")
    assert_flowrunner_error(client.get("/api/v1/flows?offset=-2"), 400, "invalid_request")


def test_get_returns_the_definition(make_account, client_for, make_flow):
    flow = make_flow()
    response = client_for(make_account()).get(f"/api/v1/flows/{flow.id}")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == FLOW_FIELDS | {"definition"}
    assert body["definition"] == flow.source and body["id"] == str(flow.id)


def test_unknown_and_foreign_flows_are_404(make_account, client_for, make_flow, other_namespace):
    foreign = make_flow("Foreign", ns=other_namespace)
    client = client_for(make_account(Role.EDITOR))
    for path in (f"/api/v1/flows/{foreign.id}", "/api/v1/flows/not-a-uuid", f"/api/v1/flows/{Execution().id}"):
        assert_flowrunner_error(client.get(path), 404, "not_found")
        assert_flowrunner_error(client.put(path, create_body(), format="json"), 404, "not_found")
        assert_flowrunner_error(client.delete(path), 404, "not_found")
        assert_flowrunner_error(client.post(f"{path}/run", {}, format="json"), 404, "not_found")
    assert client.get("/api/v1/flows").json()["total"] == 0
    assert Flow.objects.filter(pk=foreign.pk).exists()


def test_without_a_token_everything_is_401(client_for, make_flow):
    flow = make_flow()
    client = client_for(None)
    assert_flowrunner_error(client.get("/api/v1/flows"), 401, "unauthorized")
    assert_flowrunner_error(client.get(f"/api/v1/flows/{flow.id}"), 401, "unauthorized")
    assert_flowrunner_error(client.post("/api/v1/flows", create_body(), format="json"), 401, "unauthorized")
    assert_flowrunner_error(client.post(f"/api/v1/flows/{flow.id}/run", {}, format="json"), 401, "unauthorized")


@pytest.mark.parametrize("role", [Role.EDITOR, Role.USER, Role.ADMIN])
def test_create_answers_201_in_the_seed_shape(make_account, client_for, role, namespace):
    account = make_account(role)
    response = client_for(account).post("/api/v1/flows", create_body(tags=["production"]), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == FLOW_FIELDS
    assert (body["name"], body["description"], body["version"], body["tags"]) == (
        "My Flow",
        "A simple flow",
        "1.0.0",
        ["production"],
    )
    flow = Flow.objects.get(pk=body["id"])
    assert flow.namespace == namespace and flow.created_by == account and flow.format == Flow.Format.NODES
    assert flow.source == nodes_yaml() and flow.revisions.count() == 1


def test_create_takes_name_and_description_from_metadata(make_account, client_for):
    body = {"definition": nodes_yaml("From Metadata", "2.1.0")}
    response = client_for(make_account(Role.EDITOR)).post("/api/v1/flows", body, format="json")
    assert response.status_code == 201
    assert (response.json()["name"], response.json()["version"]) == ("From Metadata", "2.1.0")
    assert response.json()["description"] == "A simple flow"


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EXECUTOR])
def test_create_update_delete_need_the_editor_role(make_account, client_for, make_flow, role):
    flow = make_flow()
    client = client_for(make_account(role))
    assert_flowrunner_error(client.post("/api/v1/flows", create_body("New"), format="json"), 403, "forbidden")
    assert_flowrunner_error(client.put(f"/api/v1/flows/{flow.id}", {"name": "x"}, format="json"), 403, "forbidden")
    assert_flowrunner_error(client.delete(f"/api/v1/flows/{flow.id}"), 403, "forbidden")
    assert client.get(f"/api/v1/flows/{flow.id}").status_code == 200
    assert Flow.objects.filter(name="New").count() == 0 and Flow.objects.get(pk=flow.pk).name == "My Flow"


def test_create_validation_lists_every_problem(make_account, client_for):
    client = client_for(make_account(Role.EDITOR))
    response = client.post("/api/v1/flows", {"name": "Bad", "definition": BAD_DEFINITION}, format="json")
    assert_flowrunner_error(response, 422, "validation_error")
    details = response.json()["error"]["details"]
    assert {"field", "reason", "errors"} <= set(details)
    paths = {problem["path"] for problem in details["errors"]}
    assert {"nodes.start.type", "nodes.start.next", "nodes.other.params"} <= paths
    assert all(problem["line"] for problem in details["errors"])
    missing = client.post("/api/v1/flows", {"name": "No definition"}, format="json")
    assert_flowrunner_error(missing, 422, "validation_error")
    assert missing.json()["error"]["details"]["field"] == "definition"
    wrong_tags = client.post("/api/v1/flows", create_body(tags="production"), format="json")
    assert_flowrunner_error(wrong_tags, 422, "validation_error")
    unknown_secret = nodes_yaml().replace("Hello", "Hello ${NOPE}")
    response = client.post("/api/v1/flows", {"definition": unknown_secret}, format="json")
    assert_flowrunner_error(response, 422, "validation_error")
    assert not Flow.objects.exists()


def test_malformed_json_and_yaml_are_400(make_account, client_for):
    client = client_for(make_account(Role.EDITOR))
    assert_flowrunner_error(
        client.post("/api/v1/flows", '{"name": ', content_type="application/json"), 400, "invalid_request"
    )
    response = client.post("/api/v1/flows", {"name": "Y", "definition": "nodes: [1"}, format="json")
    assert_flowrunner_error(response, 400, "invalid_request")
    assert response.json()["error"]["details"]["field"] == "definition"


def test_oversize_body_and_definition_are_413(make_account, client_for, settings):
    client = client_for(make_account(Role.EDITOR))
    settings.MILLRACE_YAML_MAX_BYTES = 200
    response = client.post("/api/v1/flows", create_body(), format="json")
    assert_flowrunner_error(response, 413, "payload_too_large")
    settings.MILLRACE_MAX_BODY_BYTES = 100
    response = client.post("/api/v1/flows", create_body(), format="json")
    assert_flowrunner_error(response, 413, "payload_too_large")


def test_duplicate_name_is_409(make_account, client_for, make_flow):
    make_flow("My Flow")
    response = client_for(make_account(Role.EDITOR)).post("/api/v1/flows", create_body(), format="json")
    assert_flowrunner_error(response, 409, "conflict")


def test_a_flow_of_the_same_name_in_another_namespace_is_no_conflict(client_for, make_flow, other_namespace):
    make_flow("My Flow", ns=other_namespace)
    account = AccountFactory(role=Role.EDITOR, default_namespace=NamespaceFactory(name="mine"))
    assert client_for(account).post("/api/v1/flows", create_body(), format="json").status_code == 201


def test_an_account_without_default_namespace_gets_422(client_for):
    account = AccountFactory(role=Role.EDITOR, default_namespace=None)
    response = client_for(account).post("/api/v1/flows", create_body(), format="json")
    assert_flowrunner_error(response, 422, "validation_error")


def test_update_writes_a_new_revision(make_account, client_for, make_flow):
    flow = make_flow()
    FlowRevisionFactory(flow=flow, number=1, source=flow.source)
    before = flow.updated_at
    body = {
        "name": "Updated Flow",
        "description": "An updated flow",
        "definition": nodes_yaml("Updated Flow", "1.0.1"),
        "tags": ["production", "updated"],
    }
    response = client_for(make_account(Role.EDITOR)).put(f"/api/v1/flows/{flow.id}", body, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert set(data) == FLOW_FIELDS
    assert (data["name"], data["description"], data["version"], data["tags"]) == (
        "Updated Flow",
        "An updated flow",
        "1.0.1",
        ["production", "updated"],
    )
    flow.refresh_from_db()
    assert flow.revision == 2 and flow.revisions.count() == 2 and flow.updated_at > before
    assert flow.source == body["definition"]


def test_update_validates_and_conflicts(make_account, client_for, make_flow):
    flow = make_flow()
    make_flow("Taken")
    client = client_for(make_account(Role.EDITOR))
    bad = client.put(f"/api/v1/flows/{flow.id}", {"definition": BAD_DEFINITION}, format="json")
    assert_flowrunner_error(bad, 422, "validation_error")
    assert len(bad.json()["error"]["details"]["errors"]) >= 3
    assert_flowrunner_error(client.put(f"/api/v1/flows/{flow.id}", {"name": "Taken"}, format="json"), 409, "conflict")
    assert_flowrunner_error(
        client.put(f"/api/v1/flows/{flow.id}", "not json", content_type="application/json"), 400, "invalid_request"
    )
    flow.refresh_from_db()
    assert flow.revision == 1 and flow.name == "My Flow"


def test_delete_answers_the_seed_message(make_account, client_for, make_flow):
    flow = make_flow()
    response = client_for(make_account(Role.EDITOR)).delete(f"/api/v1/flows/{flow.id}")
    assert response.status_code == 200
    assert response.json() == {"message": "Flow deleted successfully"}
    assert not Flow.objects.filter(pk=flow.pk).exists()


def test_delete_with_running_executions_needs_force(make_account, client_for, make_flow, make_execution):
    flow = make_flow()
    execution = make_execution(flow=flow, status=ExecutionStatus.RUNNING)
    client = client_for(make_account(Role.EDITOR))
    assert_flowrunner_error(client.delete(f"/api/v1/flows/{flow.id}"), 409, "conflict")
    response = client.delete(f"/api/v1/flows/{flow.id}?force=true")
    assert response.status_code == 200
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.CANCELLED and not Flow.objects.filter(pk=flow.pk).exists()


@pytest.mark.parametrize("role", [Role.EXECUTOR, Role.EDITOR])
def test_run_answers_201(make_account, client_for, make_flow, role):
    flow = make_flow()
    response = client_for(make_account(role)).post(
        f"/api/v1/flows/{flow.id}/run", {"input": {"key": "value"}}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"execution_id", "flow_id", "status", "created_at"}
    assert body["flow_id"] == str(flow.id) and body["status"] == "running" and body["created_at"].endswith("Z")
    assert Execution.objects.get(pk=body["execution_id"]).inputs == {"key": "value"}


def test_run_without_body_and_refusals(make_account, client_for, make_flow):
    flow = make_flow()
    assert client_for(make_account(Role.EXECUTOR)).post(f"/api/v1/flows/{flow.id}/run").status_code == 201
    viewer = client_for(make_account(Role.VIEWER))
    assert_flowrunner_error(viewer.post(f"/api/v1/flows/{flow.id}/run", {}, format="json"), 403, "forbidden")
    executor = client_for(make_account(Role.EXECUTOR))
    bad = executor.post(f"/api/v1/flows/{flow.id}/run", {"input": [1, 2]}, format="json")
    assert_flowrunner_error(bad, 422, "validation_error")
    malformed = executor.post(f"/api/v1/flows/{flow.id}/run", "{", content_type="application/json")
    assert_flowrunner_error(malformed, 400, "invalid_request")
    assert Execution.objects.count() == 1


def test_membership_gives_access_to_another_namespace(client_for, make_flow, other_namespace):
    from tests.factories import MembershipFactory

    flow = make_flow("Shared", ns=other_namespace)
    account = AccountFactory(role=Role.EDITOR, default_namespace=NamespaceFactory(name="home"))
    MembershipFactory(account=account, namespace=other_namespace, role=Role.VIEWER)
    client = client_for(account)
    assert client.get(f"/api/v1/flows/{flow.id}").status_code == 200
    assert_flowrunner_error(client.delete(f"/api/v1/flows/{flow.id}"), 403, "forbidden")
    assert_flowrunner_error(client.post(f"/api/v1/flows/{flow.id}/run", {}, format="json"), 403, "forbidden")
