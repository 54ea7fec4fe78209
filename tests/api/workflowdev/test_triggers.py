"""Triggers over the API, the open webhook (with ?wait=true) and a flow-trigger chain."""

import secrets

import pytest
from rest_framework.test import APIClient

from accounts.roles import Role
from executions.models import Execution
from flows.models import Trigger
from tests.api.workflowdev.conftest import API, WD, assert_error
from tests.factories import FlowFactory, TriggerFactory

ECHO = """name: echo
tasks:
  - name: reply
    type: util.echo
    properties:
      value: {customer: "{{ trigger.body.customerId }}", agent: "{{ trigger.headers.get('X-Agent', '') }}"}
"""
# Chosen keys must be long and random (`flows.webhook_keys`); the prefix only names them here.
MY_KEY, TAKEN_KEY, WAIT_KEY, SLOW_KEY, OFF_KEY, CRED_KEY = (
    f"{name}-{secrets.token_urlsafe(24)}" for name in ("my", "taken", "wait", "slow", "off", "cred")
)
DOWNSTREAM = "name: downstream\ntasks:\n  - name: note\n    type: util.log\n    properties: {message: after}\n"


@pytest.mark.django_db
def test_trigger_crud_per_type(api, create_flow):
    flow = create_flow()
    webhook = api.post(f"{API}/triggers", {"flowId": flow["id"], "type": "webhook"}, format="json")
    assert webhook.status_code == 201
    body = webhook.json()
    assert {"id", "flowId", "type", "enabled", "inputs", "key"} <= set(body)
    assert not {"cron", "timezone", "sourceFlowId", "statuses"} & set(body)
    assert body["flowId"] == flow["id"] and body["enabled"] is True and body["inputs"] == {}
    assert len(body["key"]) >= 24
    schedule = api.post(
        f"{API}/triggers",
        {"flowId": flow["id"], "type": "schedule", "cron": "0 9 * * *", "timezone": "Europe/Paris"},
        format="json",
    ).json()
    assert schedule["cron"] == "0 9 * * *" and schedule["timezone"] == "Europe/Paris" and "key" not in schedule
    assert schedule["nextFireAt"].endswith("Z")
    other = create_flow("name: other\ntasks:\n  - name: a\n    type: util.log\n    properties: {message: m}\n")
    chained = api.post(
        f"{API}/triggers",
        {"flowId": other["id"], "type": "flow", "sourceFlowId": flow["id"], "statuses": ["SUCCESS"]},
        format="json",
    ).json()
    assert chained["sourceFlowId"] == flow["id"] and chained["statuses"] == ["SUCCESS"]
    listed = api.get(f"{API}/triggers")
    assert listed["X-Total-Count"] == "3"
    assert [t["type"] for t in api.get(f"{API}/triggers?flowId={other['id']}").json()] == ["flow"]
    assert api.get(f"{API}/triggers/{body['id']}").json() == body
    updated = api.put(f"{API}/triggers/{body['id']}", {"enabled": False, "key": MY_KEY}, format="json")
    assert updated.status_code == 200 and updated.json()["enabled"] is False
    assert updated.json()["key"] == MY_KEY
    moved = api.put(f"{API}/triggers/{schedule['id']}", {"cron": "*/5 * * * *"}, format="json").json()
    assert moved["cron"] == "*/5 * * * *"
    assert api.delete(f"{API}/triggers/{body['id']}").status_code == 204
    assert_error(api.get(f"{API}/triggers/{body['id']}"), 404, "not_found")


@pytest.mark.django_db
def test_trigger_errors_roles_and_isolation(api, create_flow, as_role, other_namespace):
    flow = create_flow()
    bad_cron = {"flowId": flow["id"], "type": "schedule", "cron": "every day"}
    assert_error(api.post(f"{API}/triggers", bad_cron, format="json"), 422, "validation_error")
    bad_zone = {**bad_cron, "cron": "* * * * *", "timezone": "Mars/Base"}
    assert_error(api.post(f"{API}/triggers", bad_zone, format="json"), 422, "validation_error")
    bad_type = {"flowId": flow["id"], "type": "email"}
    assert_error(api.post(f"{API}/triggers", bad_type, format="json"), 422, "validation_error")
    no_source = {"flowId": flow["id"], "type": "flow"}
    assert_error(api.post(f"{API}/triggers", no_source, format="json"), 422, "validation_error")
    api.post(f"{API}/triggers", {"flowId": flow["id"], "type": "webhook", "key": TAKEN_KEY}, format="json")
    dup = {"flowId": flow["id"], "type": "webhook", "key": TAKEN_KEY}
    assert_error(api.post(f"{API}/triggers", dup, format="json"), 422, "validation_error")
    theirs = FlowFactory(namespace=other_namespace)
    assert_error(
        api.post(f"{API}/triggers", {"flowId": str(theirs.pk), "type": "webhook"}, format="json"), 404, "not_found"
    )
    watch = {"flowId": flow["id"], "type": "flow", "sourceFlowId": str(theirs.pk)}
    assert_error(api.post(f"{API}/triggers", watch, format="json"), 404, "not_found")
    viewer = as_role(Role.VIEWER)
    assert_error(
        viewer.post(f"{API}/triggers", {"flowId": flow["id"], "type": "webhook"}, format="json"), 403, "forbidden"
    )
    assert viewer.get(f"{API}/triggers").json()[0]["key"] is None  # a key is the webhook's credential
    assert as_role(Role.EXECUTOR).get(f"{API}/triggers").json()[0]["key"] == TAKEN_KEY
    assert_error(APIClient().get(f"{API}/triggers"), 401, "unauthorized")


@pytest.mark.django_db
def test_a_refused_key_tells_nothing_of_other_tenants_keys(api, create_flow, other_namespace):
    theirs = TriggerFactory(flow=FlowFactory(namespace=other_namespace), type="webhook", key=TAKEN_KEY)
    flow = create_flow()
    answers = []
    for key in (theirs.key, "my-webhook-key", "a" * 40, "abcdefghijklmnopqrstuvwxyzABCDEF", "k" * 31 + "!"):
        response = api.post(f"{API}/triggers", {"flowId": flow["id"], "type": "webhook", "key": key}, format="json")
        assert_error(response, 422, "validation_error")
        answers.append(response.json())
    assert all(answer == answers[0] for answer in answers), answers
    assert "at least 32 random characters" in answers[0]["error"]["message"]
    own = api.post(f"{API}/triggers", {"flowId": flow["id"], "type": "webhook"}, format="json").json()
    assert own["key"] != TAKEN_KEY
    moved = api.put(f"{API}/triggers/{own['id']}", {"key": theirs.key}, format="json")
    assert_error(moved, 422, "validation_error")
    assert moved.json() == answers[0]
    kept = api.put(f"{API}/triggers/{own['id']}", {"key": own["key"], "enabled": False}, format="json")
    assert kept.status_code == 200 and kept.json()["key"] == own["key"]


@pytest.mark.django_db
def test_yaml_declared_triggers_are_changed_through_the_yaml(api, create_flow):
    yaml = (
        "name: y\ntriggers:\n  - id: nightly\n    type: schedule\n    cron: '0 0 * * *'\n"
        "tasks:\n  - name: a\n    type: util.log\n    properties: {message: m}\n"
    )
    flow = create_flow(yaml)
    declared = api.get(f"{API}/triggers?flowId={flow['id']}").json()
    assert len(declared) == 1 and declared[0]["fromDefinition"] is True
    assert_error(api.delete(f"{API}/triggers/{declared[0]['id']}"), 409, "conflict")


def test_webhook_starts_the_flow_with_body_and_headers(eager, api, create_flow):
    flow = create_flow(ECHO)
    key = api.post(f"{API}/triggers", {"flowId": flow["id"], "type": "webhook", "key": MY_KEY}, format="json")
    assert key.status_code == 201
    anonymous = APIClient()
    fired = anonymous.post(f"{API}/webhook/{MY_KEY}", {"customerId": 42}, format="json", HTTP_X_AGENT="curl")
    assert fired.status_code == 201
    assert set(fired.json()) == {"executionId", "status", "tasksTotal"}
    execution = Execution.objects.get(pk=fired.json()["executionId"])
    assert execution.status == "SUCCESS" and execution.origin == "webhook"
    assert execution.trigger_data["body"] == {"customerId": 42}
    assert execution.trigger_data["headers"]["X-Agent"] == "curl"
    assert execution.task_runs.get().outputs == {"customer": 42, "agent": "curl"}
    with_token = APIClient()
    with_token.credentials(HTTP_AUTHORIZATION="Bearer secret")
    second = with_token.post(f"{API}/webhook/{MY_KEY}", {"customerId": 1}, format="json")
    assert second.status_code == 201  # the key is the credential: a bearer header is ignored, not refused
    assert "Authorization" not in Execution.objects.get(pk=second.json()["executionId"]).trigger_data["headers"]


def test_webhook_wait_answers_the_outputs(eager, api, create_flow, settings):
    settings.MILLRACE_WEBHOOK_WAIT_SECONDS = 2
    flow = create_flow(ECHO)
    api.post(f"{API}/triggers", {"flowId": flow["id"], "type": "webhook", "key": WAIT_KEY}, format="json")
    response = APIClient().post(f"{API}/webhook/{WAIT_KEY}?wait=true", {"customerId": 7}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"executionId", "status", "outputs"}
    assert body["status"] == "SUCCESS"
    assert body["outputs"] == {"reply": {"customer": 7, "agent": ""}}


@pytest.mark.django_db
def test_webhook_wait_returns_a_live_status_when_the_bound_passes(api, create_flow, settings):
    settings.MILLRACE_WEBHOOK_WAIT_SECONDS = 0
    flow = create_flow(ECHO)
    api.post(f"{API}/triggers", {"flowId": flow["id"], "type": "webhook", "key": SLOW_KEY}, format="json")
    body = APIClient().post(f"{API}/webhook/{SLOW_KEY}?wait=true", {}, format="json").json()
    assert body["status"] == "QUEUED" and body["outputs"] is None


@pytest.mark.django_db
def test_webhook_refusals(api, create_flow, settings):
    flow = create_flow(ECHO)
    trigger = api.post(
        f"{API}/triggers",
        {"flowId": flow["id"], "type": "webhook", "key": OFF_KEY, "enabled": False},
        format="json",
    ).json()
    assert_error(APIClient().post(f"{API}/webhook/{OFF_KEY}", {}, format="json"), 404, "not_found")
    assert_error(APIClient().post(f"{API}/webhook/unknown-key", {}, format="json"), 404, "not_found")
    api.put(f"{API}/triggers/{trigger['id']}", {"enabled": True}, format="json")
    assert APIClient().post(f"{API}/webhook/{OFF_KEY}", "plain text", content_type="text/plain").status_code == 201
    assert Execution.objects.get().trigger_data["body"] == "plain text"
    settings.MILLRACE_MAX_BODY_BYTES = 100
    big = APIClient().post(f"{API}/webhook/{OFF_KEY}", {"x": "y" * 200}, format="json")
    assert_error(big, 413, "payload_too_large")


def test_flow_trigger_chain(eager, api, create_flow):
    source = create_flow()
    target = create_flow(DOWNSTREAM)
    api.post(
        f"{API}/triggers",
        {"flowId": target["id"], "type": "flow", "sourceFlowId": source["id"], "statuses": ["SUCCESS"]},
        format="json",
    )
    run = api.post(f"{WD}/flows/{source['id']}/execute").json()["executionId"]
    downstream = Execution.objects.get(flow_id=target["id"])
    assert downstream.status == "SUCCESS" and downstream.origin == "flow"
    assert downstream.trigger_data["executionId"] == run
    assert Trigger.objects.get(flow_id=target["id"]).source_flow_id is not None


def test_webhook_drops_every_credential_looking_header(eager, api, create_flow):
    flow = create_flow(ECHO)
    api.post(f"{API}/triggers", {"flowId": flow["id"], "type": "webhook", "key": CRED_KEY}, format="json")
    fired = APIClient().post(
        f"{API}/webhook/{CRED_KEY}",
        {"customerId": 3},
        format="json",
        HTTP_X_AGENT="github",
        HTTP_X_API_KEY="k-123",
        HTTP_X_HUB_SIGNATURE_256="sha256=abc",
        HTTP_X_GITLAB_TOKEN="glt-123",
        HTTP_X_AUTH_USER="bob",
        HTTP_X_CLIENT_SECRET="s-123",
        HTTP_X_SESSION_ID="sess-123",
        HTTP_X_PASSWORD="pw-123",
        HTTP_COOKIE="sid=1",
        HTTP_PROXY_AUTHORIZATION="Basic eA==",
    )
    assert fired.status_code == 201
    trigger_data = Execution.objects.get(pk=fired.json()["executionId"]).trigger_data
    headers = {name.lower(): value for name, value in trigger_data["headers"].items()}
    assert headers["x-agent"] == "github"
    for word in ("auth", "token", "key", "secret", "signature", "cookie", "password", "session"):
        assert not [name for name in headers if word in name], word
    for value in ("k-123", "sha256=abc", "glt-123", "s-123", "sess-123", "pw-123", "sid=1", "Basic eA=="):
        assert value not in str(trigger_data)
