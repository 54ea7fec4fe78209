"""Hostile input gets a 4xx in the dialect's shape, never a 500: over-deep JSON, huge offsets, KV ttl."""

import pytest

from accounts.roles import Role
from core.errors import ValidationFailed
from flows.models import Trigger
from tests.api.test_error_shapes import shape_of
from tests.factories import AccountFactory, AgentFactory, FlowFactory, TriggerFactory
from vault.services import KV_MAX_TTL_SECONDS, kv_put

pytestmark = pytest.mark.django_db

SOURCE = "name: hello\ntasks:\n  - {name: a, type: util.echo, properties: {value: 1}}\n"
WEBHOOK_KEY = "k" * 40

# (dialect, method, path): every JSON endpoint family, open ones included; {flow} is a flow id
JSON_ENDPOINTS = [
    ("flowrunner", "post", "/api/v1/auth/login"),
    ("flowrunner", "post", "/flowrunner/api/v1/flows"),
    ("flowrunner", "post", "/flowrunner/api/v1/flows/{flow}/run"),
    ("flowrunner", "post", "/api/v1/accounts"),
    ("workflowdev", "post", "/auth/login"),
    ("workflowdev", "post", "/workflowdev/api/v1/flows"),
    ("workflowdev", "post", "/workflowdev/api/v1/flows/validate"),
    ("workflowdev", "post", "/workflowdev/api/v1/flows/{flow}/execute"),
    ("workflowdev", "put", "/api/v1/kv/production/key"),
    ("workflowdev", "post", f"/api/v1/webhook/{WEBHOOK_KEY}"),
    ("workflowsvc", "post", "/workflowsvc/api/v1/workflows?nsfilter=production"),
    ("activeworkflow", "post", "/api/v1/agents"),
    ("connector", "post", "/v1/do/http/GetRequest"),
    ("connector", "put", "/v1/callbacks/some-token"),
]

LIST_ENDPOINTS = [
    ("flowrunner", "/flowrunner/api/v1/flows?{param}={value}"),
    ("flowrunner", "/flowrunner/api/v1/executions?{param}={value}"),
    ("flowrunner", "/api/v1/accounts?{param}={value}"),
    ("workflowdev", "/workflowdev/api/v1/flows?{param}={value}"),
    ("workflowdev", "/workflowdev/api/v1/executions?{param}={value}"),
    ("workflowdev", "/api/v1/audit?{param}={value}"),
    ("workflowdev", "/api/v1/plugins?{param}={value}"),
    ("workflowsvc", "/workflowsvc/api/v1/workflows?nsfilter=production&{param}={value}"),
]


@pytest.fixture
def api(namespace, client_for):
    account = AccountFactory(role=Role.ADMIN, default_namespace=namespace)
    flow = FlowFactory(namespace=namespace, source=SOURCE, created_by=account)
    TriggerFactory(flow=flow, type=Trigger.Type.WEBHOOK, key=WEBHOOK_KEY)
    client = client_for(account)
    client.flow = flow
    return client


def nested(levels: int) -> str:
    return '{"input": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}"


@pytest.mark.parametrize("levels", [200, 1000, 100_000])
@pytest.mark.parametrize(("dialect", "method", "path"), JSON_ENDPOINTS)
def test_json_nested_too_deep_is_a_400_in_the_dialects_shape(api, dialect, method, path, levels):
    response = getattr(api, method)(path.format(flow=api.flow.pk), nested(levels), content_type="application/json")

    assert response.status_code == 400, response.content
    code, message = shape_of(dialect, response.json())
    if dialect != "activeworkflow":
        assert code in ("invalid_request", "invalid_callback_body")
    if path != "/v1/callbacks/some-token":  # the callback answers its own documented message
        assert "deeper than 128 levels" in message


def test_brackets_inside_strings_do_not_count(api):
    body = '{"name": "' + "[" * 5000 + '", "yamlContent": "x"}'
    response = api.post("/workflowdev/api/v1/flows/validate", body, content_type="application/json")
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("param", ["offset", "limit"])
@pytest.mark.parametrize("value", ["99999999999999999999", "9" * 5000, "-1", "ten", "1e3"])
@pytest.mark.parametrize(("dialect", "path"), LIST_ENDPOINTS)
def test_bad_or_huge_paging_numbers_are_a_400_never_a_500(api, dialect, path, param, value):
    name = {"offset": "_offset", "limit": "_pagesize"}[param] if dialect == "workflowsvc" else param
    response = api.get(path.format(param=name, value=value))

    if param == "limit" and value == "99999999999999999999":
        assert response.status_code == 200, response.content  # a limit above the maximum is clamped
        return
    assert response.status_code == 400, response.content
    code, message = shape_of(dialect, response.json())
    assert code == "invalid_request" and f"'{name}'" in message


@pytest.mark.parametrize("path", ["/api/v1/agents/{agent}/messages?limit={value}"])
@pytest.mark.parametrize("value", ["99999999999999999999", "9" * 5000, "-1", "ten"])
def test_activeworkflow_message_limit(api, namespace, path, value):
    agent = AgentFactory(namespace=namespace)
    response = api.get(path.format(agent=agent.pk, value=value))
    if value == "99999999999999999999":
        assert response.status_code == 200, response.content
        return
    assert response.status_code == 400, response.content
    assert set(response.json()) == {"error"}


def test_workflowsvc_sort_nested_too_deep_is_a_400(api):
    sort = "{" + '"a":{' * 2000 + "}" * 2001
    response = api.get("/workflowsvc/api/v1/workflows", {"nsfilter": "production", "sort": sort})
    assert response.status_code == 400, response.content
    assert shape_of("workflowsvc", response.json())[0] == "invalid_request"


@pytest.mark.parametrize("ttl", [10**30, KV_MAX_TTL_SECONDS + 1])
def test_a_kv_ttl_past_the_maximum_is_refused_in_the_dialects_shape(api, namespace, ttl):
    response = api.put("/api/v1/kv/production/key", {"value": 1, "ttl": ttl}, format="json")

    assert response.status_code == 422, response.content
    code, message = shape_of("workflowdev", response.json())
    assert code == "validation_error" and "ttl" in message
    with pytest.raises(ValidationFailed):  # the service refuses it for flows and agents too
        kv_put(namespace_id=namespace.pk, key="k", value=1, ttl=ttl)
    assert (
        api.put("/api/v1/kv/production/key", {"value": 1, "ttl": KV_MAX_TTL_SECONDS}, format="json").status_code == 200
    )


@pytest.mark.parametrize("command", ["http/GetRequest", "http/PostRequest"])
def test_a_connector_url_that_does_not_parse_is_a_400_envelope(api, command):
    response = api.post(f"/v1/do/{command}", {"url": "http://[::1:8790/"}, format="json")

    assert response.status_code == 400, response.content
    code, message = shape_of("connector", response.json())
    assert code == "INVALID_URL" and "cannot be parsed" in message


def test_a_callback_url_that_does_not_parse_is_a_400_envelope(api):
    body = {"flow_id": str(api.flow.pk), "spiff__callback_url": "http://[::1:8790/cb"}
    response = api.post("/v1/do/millrace/RunFlow", body, format="json")

    assert response.status_code == 400, response.content
    code, message = shape_of("connector", response.json())
    assert code == "invalid_parameters" and "cannot be parsed" in message


def test_an_upstream_json_body_nested_too_deep_comes_back_raw(api, httpserver, settings):
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    deep = "[" * 100_000 + "]" * 100_000
    httpserver.expect_request("/deep").respond_with_data(deep, content_type="application/json")

    response = api.post("/v1/do/http/GetRequest", {"url": httpserver.url_for("/deep")}, format="json")

    assert response.status_code == 200, response.content[:300]
    assert response.json()["command_response"]["body"] == {"raw_response": deep}


@pytest.mark.parametrize("key", ["%00", "key%00end", "' OR '1'='1", "k" * 5000])
def test_an_odd_webhook_key_is_a_404_never_a_500(api, key):
    response = api.post(f"/api/v1/webhook/{key}?wait=true", {}, format="json")
    assert response.status_code == 404, response.content
