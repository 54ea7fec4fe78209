"""Run inputs nest at most 64 levels (as flow YAML) in every dialect's run, execute, create and webhook."""

import pytest

from accounts.roles import Role
from executions.engine.inputs import MAX_INPUT_DEPTH
from executions.models import Execution
from flows.models import Trigger
from tests.api.test_error_shapes import shape_of
from tests.factories import AccountFactory, FlowFactory, TriggerFactory

pytestmark = pytest.mark.django_db

SOURCE = "name: hello\ntasks:\n  - {name: a, type: util.echo, properties: {value: 1}}\n"
WEBHOOK_KEY = "w" * 40


def inputs(levels: int) -> dict:
    """An inputs object `levels` deep, the object itself counted (as YAML counts a document)."""
    value: list = []
    for _ in range(levels - 2):
        value = [value]
    return {"data": value}


def post(api, dialect: str, levels: int):
    flow = api.flow
    if dialect == "flowrunner":
        return api.post(f"/flowrunner/api/v1/flows/{flow.pk}/run", {"input": inputs(levels)}, format="json")
    if dialect == "workflowdev":
        return api.post(f"/workflowdev/api/v1/flows/{flow.pk}/execute", inputs(levels), format="json")
    if dialect == "workflowdev-webhook":  # the body is `trigger.body`: the same limit
        return api.post(f"/api/v1/webhook/{WEBHOOK_KEY}", inputs(levels), format="json")
    if dialect == "workflowsvc":
        body = {"_workflowDefId": str(flow.pk), "_inputParams": inputs(levels)}
        return api.post("/workflowsvc/api/v1/workflows?nsfilter=production", body, format="json")
    body = {"flow_id": str(flow.pk), "inputs": inputs(levels)}
    return api.post("/v1/do/millrace/RunFlow", body, format="json")


DIALECTS = ["flowrunner", "workflowdev", "workflowdev-webhook", "workflowsvc", "connector"]


@pytest.fixture
def api(namespace, client_for):
    account = AccountFactory(role=Role.ADMIN, default_namespace=namespace)
    flow = FlowFactory(namespace=namespace, source=SOURCE, created_by=account)
    TriggerFactory(flow=flow, type=Trigger.Type.WEBHOOK, key=WEBHOOK_KEY)
    client = client_for(account)
    client.flow = flow
    return client


@pytest.mark.parametrize("dialect", DIALECTS)
def test_inputs_one_level_too_deep_are_a_400_naming_the_problem(api, dialect):
    response = post(api, dialect, MAX_INPUT_DEPTH + 1)

    assert response.status_code == 400, response.content
    code, message = shape_of(dialect.split("-")[0], response.json())
    assert code == "invalid_request" and f"at most {MAX_INPUT_DEPTH} levels" in message
    assert not Execution.objects.exists()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_inputs_at_the_limit_are_accepted(api, dialect, settings):
    settings.MILLRACE_ENGINE_EAGER = False  # accepted and queued is enough here
    settings.MILLRACE_WEBHOOK_WAIT_SECONDS = 0  # RunFlow would wait for the end
    response = post(api, dialect, MAX_INPUT_DEPTH)

    assert response.status_code in (200, 201, 202), response.content
    assert Execution.objects.count() == 1
