"""Another namespace's objects named inside a definition (a credential, a `secret()` call, a
subflow by namespace, id or name) are refused when the flow is saved, and still cannot be
reached at run time by a definition that got past the save check."""

import json

import pytest
from rest_framework.test import APIClient

from accounts.models import Namespace
from executions.models import Execution
from executions.services import execution_start
from tests.factories import FlowFactory
from tests.reliability.access_world import World, _secret, build_world

_STEP = "  - name: a\n    type: {type}\n    properties: {properties}\n"
FOREIGN_REFERENCES = {
    "a credential": _STEP.format(type="util.log", properties="{{message: '${{OTHER_ONLY}}'}}"),
    "a secret() call": _STEP.format(type="util.log", properties="{{message: \"{{{{ secret('OTHER_ONLY') }}}}\"}}"),
    "a subflow namespace": _STEP.format(
        type="flow.subflow", properties="{{namespace: elsewhere, flowName: flow-other}}"
    ),
    "a subflow id": _STEP.format(type="flow.subflow", properties="{{flowId: '{flow}'}}"),
    "a subflow name": _STEP.format(type="flow.subflow", properties="{{flowName: flow-other}}"),
}


def _foreign_source(kind: str, world: World) -> str:
    return "name: borrower\ntasks:\n" + FOREIGN_REFERENCES[kind].format(flow=world.other["flow"])


@pytest.mark.django_db
@pytest.mark.parametrize("kind", FOREIGN_REFERENCES)
def test_references_to_another_namespace_are_refused_at_save(kind: str) -> None:
    world = build_world()
    _secret("OTHER_ONLY", "other-value", namespace=Namespace.objects.get(name="elsewhere"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.token('editor')}")
    source = _foreign_source(kind, world)
    saved = client.post("/workflowdev/api/v1/flows", {"namespace": "production", "yamlContent": source}, format="json")
    assert saved.status_code == 422, saved.content
    assert "other-value" not in saved.content.decode()
    flow = client.get(f"/workflowdev/api/v1/flows/{world.own['flow']}").json()
    updated = client.put(f"/workflowdev/api/v1/flows/{flow['id']}", {"yamlContent": source}, format="json")
    assert updated.status_code == 422, updated.content
    validated = client.post("/workflowdev/api/v1/flows/validate", {"yamlContent": source}, format="json")
    assert validated.status_code == 200


@pytest.mark.parametrize("kind", FOREIGN_REFERENCES)
def test_references_to_another_namespace_are_refused_at_run(kind: str, transactional_db, settings) -> None:
    """A definition that got past the save check (older rows, direct writes) still cannot reach across."""
    settings.MILLRACE_ENGINE_EAGER = True
    world = build_world()
    _secret("OTHER_ONLY", "other-value", namespace=Namespace.objects.get(name="elsewhere"))
    flow = FlowFactory(
        namespace=Namespace.objects.get(name="production"), name="borrower", source=_foreign_source(kind, world)
    )
    execution = execution_start(actor=world.accounts["editor"], flow=flow, inputs={})
    execution.refresh_from_db()
    assert execution.status == "FAILED"
    assert (
        not Execution.objects.filter(namespace__name="elsewhere", flow__name="flow-other")
        .exclude(pk__in=[world.other["execution"], world.other["waiting"]])
        .exists()
    )
    assert "other-value" not in json.dumps([execution.error, execution.outputs])
