"""Flows: the seed's create example, CRUD, validation, revisions, import/export, isolation."""

import json
import secrets

import pytest
from rest_framework.test import APIClient

from accounts.models import Namespace
from accounts.roles import Role
from flows.models import Flow
from tests.api.workflowdev.conftest import API, HELLO_YAML, WD, assert_error
from tests.factories import AccountFactory, FlowFactory, NamespaceFactory

pytestmark = pytest.mark.django_db
HOOK_KEY = "secret-key-" + secrets.token_urlsafe(24)
FLOW_FIELDS = {"id", "name", "namespace", "description", "yamlContent", "revision", "createdAt", "updatedAt"}


def test_create_matches_the_seed_example(api):
    response = api.post(
        f"{WD}/flows", {"name": "my-workflow", "namespace": "production", "yamlContent": HELLO_YAML}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == FLOW_FIELDS
    assert body["name"] == "my-workflow" and body["namespace"] == "production"
    assert body["yamlContent"] == HELLO_YAML and body["revision"] == 1 and body["description"] == ""
    assert body["createdAt"].endswith("Z") and body["updatedAt"].endswith("Z")
    assert api.get(f"{WD}/flows/{body['id']}").json() == body


def test_list_is_a_bare_array_with_a_total_header(api, create_flow):
    for index in range(3):
        create_flow(HELLO_YAML.replace("my-workflow", f"wf-{index}"))
    FlowFactory(namespace=NamespaceFactory(name="hidden"))
    response = api.get(f"{WD}/flows?limit=2")
    assert response.status_code == 200 and response["X-Total-Count"] == "3"
    assert [f["name"] for f in response.json()] == ["wf-0", "wf-1"]
    assert [f["name"] for f in api.get(f"{WD}/flows?offset=2").json()] == ["wf-2"]
    assert [f["name"] for f in api.get(f"{WD}/flows?q=wf-1").json()] == ["wf-1"]
    assert api.get(f"{WD}/flows?namespace=hidden").json() == []


def test_update_makes_revisions_and_restore_brings_one_back(api, create_flow, editor):
    flow = create_flow()
    changed = HELLO_YAML.replace("Hello world", "Bye")
    updated = api.put(f"{WD}/flows/{flow['id']}", {"yamlContent": changed, "description": "d"}, format="json").json()
    assert updated["revision"] == 2 and updated["yamlContent"] == changed and updated["description"] == "d"
    revisions = api.get(f"{WD}/flows/{flow['id']}/revisions")
    assert revisions["X-Total-Count"] == "2"
    assert [r["revision"] for r in revisions.json()] == [2, 1]
    assert set(revisions.json()[0]) == {"revision", "createdAt", "createdBy"}
    assert revisions.json()[0]["createdBy"] == editor.username
    restored = api.post(f"{WD}/flows/{flow['id']}/revisions/1/restore")
    assert restored.status_code == 200
    assert restored.json()["revision"] == 3 and restored.json()["yamlContent"] == HELLO_YAML
    assert_error(api.post(f"{WD}/flows/{flow['id']}/revisions/9/restore"), 404, "not_found")
    same_name = api.put(f"{WD}/flows/{flow['id']}", {"namespace": "elsewhere"}, format="json")
    assert_error(same_name, 422, "validation_error")


def test_invalid_definitions_are_422_with_every_problem(api):
    bad = "name: x\ntasks:\n  - name: a\n    type: nope.nope\n  - name: a\n    type: util.log\n"
    error = assert_error(api.post(f"{WD}/flows", {"yamlContent": bad}, format="json"), 422, "validation_error")
    problems = error["details"]["errors"]
    assert len(problems) >= 2 and all(set(p) == {"path", "line", "message"} for p in problems)
    assert {p["path"] for p in problems} >= {"tasks[0].type", "tasks[1]"}
    assert all(isinstance(p["line"], int) for p in problems)
    assert_error(api.post(f"{WD}/flows", {"name": "x"}, format="json"), 422, "validation_error")
    malformed = api.post(f"{WD}/flows", "{nope", content_type="application/json")
    assert_error(malformed, 400, "invalid_request")


def test_validate_takes_json_or_raw_yaml(api):
    ok = api.post(f"{WD}/flows/validate", {"yamlContent": HELLO_YAML}, format="json")
    assert ok.status_code == 200 and ok.json() == {"valid": True, "errors": []}
    raw = api.post(f"{WD}/flows/validate", "name: x\ntasks: [", content_type="application/x-yaml")
    body = raw.json()
    assert raw.status_code == 200 and body["valid"] is False
    assert set(body["errors"][0]) == {"path", "line", "message"} and isinstance(body["errors"][0]["line"], int)
    secret = "name: s\ntasks:\n  - name: a\n    type: util.log\n    properties: {message: '${MISSING}'}\n"
    checked = api.post(f"{WD}/flows/validate", {"yamlContent": secret, "namespace": "production"}, format="json")
    assert checked.json()["valid"] is False and "MISSING" in checked.json()["errors"][0]["message"]


def test_delete_is_204_and_then_404(api, create_flow):
    flow = create_flow()
    assert api.delete(f"{WD}/flows/{flow['id']}").status_code == 204
    assert_error(api.get(f"{WD}/flows/{flow['id']}"), 404, "not_found")
    assert_error(api.get(f"{WD}/flows/not-a-uuid"), 404, "not_found")


def test_duplicate_name_is_409(create_flow, api):
    create_flow()
    assert_error(api.post(f"{WD}/flows", {"yamlContent": HELLO_YAML}, format="json"), 409, "conflict")


def test_export_and_import_round_trip(api, create_flow):
    flow = create_flow()
    api.post(f"{API}/triggers", {"flowId": flow["id"], "type": "webhook", "key": HOOK_KEY}, format="json")
    api.post(f"{API}/credentials", {"name": "TOKEN", "value": "s3cr3t-value"}, format="json")
    response = api.get(f"{WD}/flows/{flow['id']}/export")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="production.my-workflow.json"'
    text = response.content.decode()
    assert HOOK_KEY not in text and "s3cr3t-value" not in text
    exported = json.loads(text)
    assert exported["flow"]["yamlContent"] == HELLO_YAML and exported["triggers"][0]["type"] == "webhook"
    assert_error(api.post(f"{WD}/flows/import", exported, format="json"), 409, "conflict")
    exported["flow"]["description"] = "imported"
    overwritten = api.post(f"{WD}/flows/import?overwrite=true", exported, format="json")
    assert overwritten.status_code == 200 and overwritten.json()["description"] == "imported"
    exported["flow"]["name"] = "copy"
    created = api.post(f"{WD}/flows/import", exported, format="json")
    assert created.status_code == 201 and created.json()["name"] == "copy"
    triggers = api.get(f"{API}/triggers?flowId={created.json()['id']}").json()
    assert [t["type"] for t in triggers] == ["webhook"] and triggers[0]["key"] not in (None, HOOK_KEY)


def test_roles_and_anonymous(as_role, create_flow):
    flow = create_flow()
    viewer = as_role(Role.VIEWER)
    assert viewer.get(f"{WD}/flows/{flow['id']}").status_code == 200
    assert_error(viewer.post(f"{WD}/flows", {"yamlContent": HELLO_YAML}, format="json"), 403, "forbidden")
    assert_error(viewer.delete(f"{WD}/flows/{flow['id']}"), 403, "forbidden")
    assert_error(
        as_role(Role.EXECUTOR).put(f"{WD}/flows/{flow['id']}", {"description": "x"}, format="json"), 403, "forbidden"
    )
    assert_error(APIClient().get(f"{WD}/flows"), 401, "unauthorized")


def test_other_namespaces_are_invisible_and_unknown_ones_404(api, client_for, other_namespace):
    theirs = FlowFactory(namespace=other_namespace)
    assert_error(api.get(f"{WD}/flows/{theirs.pk}"), 404, "not_found")
    assert_error(api.post(f"{WD}/flows/{theirs.pk}/execute"), 404, "not_found")
    body = {"yamlContent": HELLO_YAML, "namespace": other_namespace.name}
    assert_error(api.post(f"{WD}/flows", body, format="json"), 404, "not_found")
    assert_error(api.post(f"{WD}/flows", {**body, "namespace": "brand-new"}, format="json"), 404, "not_found")
    root = client_for(AccountFactory(role=Role.ADMIN))
    created = root.post(f"{WD}/flows", {**body, "namespace": "brand-new"}, format="json")
    assert created.status_code == 201 and Namespace.objects.filter(name="brand-new").exists()
    assert Flow.objects.get(pk=created.json()["id"]).namespace.name == "brand-new"


def test_yaml_namespace_is_used_when_the_body_names_none(client_for, make_account, other_namespace):
    account = make_account(Role.EDITOR)
    from tests.factories import MembershipFactory

    MembershipFactory(account=account, namespace=other_namespace, role=Role.EDITOR)
    yaml = (
        f"name: y\nnamespace: {other_namespace.name}\n"
        "tasks:\n  - name: a\n    type: util.log\n    properties: {message: m}\n"
    )
    created = client_for(account).post(f"{WD}/flows", {"yamlContent": yaml}, format="json")
    assert created.status_code == 201 and created.json()["namespace"] == other_namespace.name
