"""Plugins, credentials (values never shown) and the KV store."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.roles import Role
from bench.flows import pair_flow
from connectors.registry import all_plugins
from tests.api.workflowdev.conftest import API, WD, assert_error
from tests.factories import KeyValueFactory, MembershipFactory
from vault.models import KeyValue, Secret
from vault.selectors import secret_value

pytestmark = pytest.mark.django_db
CREDENTIAL_FIELDS = {"id", "name", "namespace", "description", "createdAt", "updatedAt"}


@pytest.mark.parametrize("prefix", ["", "/workflowdev"])
def test_plugins_list_every_manifest(api, prefix):
    response = api.get(f"{prefix}{API}/plugins")
    assert response.status_code == 200
    ids = [p["id"] for p in response.json()]  # `jq '.[].id'`
    assert ids == [p.id for p in all_plugins()] and response["X-Total-Count"] == str(len(ids))
    http = next(p for p in response.json() if p["id"] == "http.request")
    assert set(http) == {
        "id",
        "name",
        "category",
        "description",
        "inputSchema",
        "outputSchema",
        "documentation",
        "example",
        "aliases",
    }
    assert api.get(f"{prefix}{API}/plugins/http.request").json() == http
    categories = api.get(f"{prefix}{API}/plugins/categories").json()
    assert "http" in categories and categories == sorted(categories)
    assert all(p["category"] == "util" for p in api.get(f"{API}/plugins?category=util").json())
    assert_error(api.get(f"{API}/plugins/nope"), 404, "not_found")
    assert_error(APIClient().get(f"{API}/plugins"), 401, "unauthorized")


def test_the_benchmark_step_is_not_in_the_catalog(api):
    ids = {p["id"] for p in api.get(f"{API}/plugins").json()}
    assert "fibo" not in ids and {"util.log", "util.hash", "data.csv", "data.json"} <= ids
    assert "fibo" not in {p["id"] for p in api.get(f"{API}/plugins?q=fib").json()}
    assert api.get(f"{API}/plugins?q=fib")["X-Total-Count"] == "0"
    assert_error(api.get(f"{API}/plugins/fibo"), 404, "not_found")
    assert api.get(f"{API}/plugins/categories").json() == sorted({p.category for p in all_plugins()})
    manifest = api.get(f"{API}/plugins/util.hash").json()
    assert manifest["documentation"] and "type: util.hash" in manifest["example"]


def test_a_benchmark_flow_still_runs_fibo(eager, api, create_flow):
    flow = create_flow(pair_flow())
    started = api.post(f"{WD}/flows/{flow['id']}/execute")
    assert started.status_code == 201, started.content
    detail = api.get(f"{WD}/executions/{started.json()['executionId']}").json()
    assert detail["execution"]["status"] == "SUCCESS"
    assert [json.loads(task["outputs"]) for task in detail["tasks"]] == [{"n": 10, "value": 55}, 55]


def test_credentials_crud_never_show_values(api, as_role):
    created = api.post(
        f"{API}/credentials", {"name": "API_TOKEN", "description": "d", "value": "s3cr3t"}, format="json"
    )
    assert created.status_code == 201
    body = created.json()
    assert set(body) == CREDENTIAL_FIELDS and body["namespace"] == "production" and body["name"] == "API_TOKEN"
    listed = api.get(f"{API}/credentials")
    assert listed["X-Total-Count"] == "1" and "s3cr3t" not in listed.content.decode()
    got = api.get(f"{API}/credentials/{body['id']}").json()
    assert got == body
    assert_error(
        api.post(f"{API}/credentials", {"name": "API_TOKEN", "value": "x-value"}, format="json"), 409, "conflict"
    )
    updated = api.put(f"{API}/credentials/{body['id']}", {"value": "n3w", "description": "e"}, format="json")
    assert updated.status_code == 200 and updated.json()["description"] == "e"
    secret = Secret.objects.get(pk=body["id"])
    assert secret_value(name="API_TOKEN", namespace_id=secret.namespace_id) == "n3w"
    rename = api.put(f"{API}/credentials/{body['id']}", {"name": "OTHER"}, format="json")
    assert_error(rename, 422, "validation_error")
    viewer = as_role(Role.VIEWER)
    assert viewer.get(f"{API}/credentials/{body['id']}").status_code == 200
    assert_error(viewer.delete(f"{API}/credentials/{body['id']}"), 403, "forbidden")
    assert_error(viewer.post(f"{API}/credentials", {"name": "X", "value": "y-value"}, format="json"), 403, "forbidden")
    assert api.delete(f"{API}/credentials/{body['id']}").status_code == 204
    assert_error(api.get(f"{API}/credentials/{body['id']}"), 404, "not_found")
    assert_error(api.post(f"{API}/credentials", {"name": "X"}, format="json"), 422, "validation_error")


def test_a_credential_of_another_namespace_is_never_resolvable(api, client_for, make_account, other_namespace):
    outsider = make_account(Role.EDITOR, namespace=other_namespace)
    theirs = client_for(outsider).post(f"{API}/credentials", {"name": "THEIR_KEY", "value": "v-value"}, format="json")
    assert theirs.json()["namespace"] == other_namespace.name
    assert_error(api.get(f"{API}/credentials/{theirs.json()['id']}"), 404, "not_found")
    assert api.get(f"{API}/credentials").json() == []
    yaml = "name: thief\ntasks:\n  - name: a\n    type: util.log\n    properties: {message: '${THEIR_KEY}'}\n"
    error = assert_error(api.post(f"{WD}/flows", {"yamlContent": yaml}, format="json"), 422, "validation_error")
    assert "THEIR_KEY" in error["message"]
    body = {"name": "X", "value": "v-value", "namespace": other_namespace.name}
    assert_error(api.post(f"{API}/credentials", body, format="json"), 404, "not_found")


def test_kv_put_get_list_delete(api, as_role):
    put = api.put(f"{API}/kv/production/counter", {"value": {"n": 1}}, format="json")
    assert put.status_code == 200
    body = put.json()
    assert set(body) == {"namespace", "key", "value", "expiresAt", "updatedAt"}
    assert body["namespace"] == "production" and body["key"] == "counter" and body["value"] == {"n": 1}
    assert body["expiresAt"] is None and body["updatedAt"].endswith("Z")
    assert api.get(f"{API}/kv/production/counter").json() == body
    ttl = api.put(f"{API}/kv/production/path/with/slashes", {"value": [1, 2], "ttl": 60}, format="json").json()
    assert ttl["key"] == "path/with/slashes" and ttl["expiresAt"] is not None
    keys = api.get(f"{API}/kv/production")
    assert keys["X-Total-Count"] == "2"
    assert [k["key"] for k in keys.json()] == ["counter", "path/with/slashes"]
    assert set(keys.json()[0]) == {"key", "expiresAt", "updatedAt"}
    assert api.put(f"{API}/kv/production/null", {"value": None}, format="json").json()["value"] is None
    viewer = as_role(Role.VIEWER)
    assert viewer.get(f"{API}/kv/production/counter").status_code == 200
    assert_error(viewer.put(f"{API}/kv/production/counter", {"value": 2}, format="json"), 403, "forbidden")
    assert_error(viewer.delete(f"{API}/kv/production/counter"), 403, "forbidden")
    assert api.delete(f"{API}/kv/production/counter").status_code == 204
    assert_error(api.get(f"{API}/kv/production/counter"), 404, "not_found")
    assert_error(api.delete(f"{API}/kv/production/counter"), 404, "not_found")


def test_kv_errors_expiry_and_isolation(api, settings, other_namespace):
    assert_error(api.put(f"{API}/kv/production/k", {"ttl": 5}, format="json"), 422, "validation_error")
    assert_error(api.put(f"{API}/kv/production/k", {"value": 1, "ttl": 0}, format="json"), 422, "validation_error")
    settings.MILLRACE_KV_MAX_VALUE_BYTES = 10
    assert_error(api.put(f"{API}/kv/production/k", {"value": "x" * 50}, format="json"), 413, "payload_too_large")
    settings.MILLRACE_KV_MAX_VALUE_BYTES = 1024
    api.put(f"{API}/kv/production/old", {"value": 1, "ttl": 1}, format="json")
    KeyValue.objects.filter(key="old").update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error(api.get(f"{API}/kv/production/old"), 404, "not_found")
    assert api.get(f"{API}/kv/production").json() == []
    KeyValueFactory(namespace=other_namespace, key="theirs", value=1)
    assert_error(api.get(f"{API}/kv/{other_namespace.name}/theirs"), 404, "not_found")
    assert_error(api.get(f"{API}/kv/{other_namespace.name}"), 404, "not_found")
    assert_error(api.put(f"{API}/kv/{other_namespace.name}/x", {"value": 1}, format="json"), 404, "not_found")
    assert_error(APIClient().get(f"{API}/kv/production"), 401, "unauthorized")


def test_membership_grants_access_to_another_namespace(client_for, make_account, other_namespace):
    account = make_account(Role.VIEWER)
    MembershipFactory(account=account, namespace=other_namespace, role=Role.EDITOR)
    client = client_for(account)
    assert client.put(f"{API}/kv/{other_namespace.name}/k", {"value": 1}, format="json").status_code == 200
    assert_error(client.put(f"{API}/kv/production/k", {"value": 1}, format="json"), 403, "forbidden")
