"""Webhook keys declared in a flow's YAML: generated unless chosen long and random, and every
refusal (weak, or another tenant's key) the same answer, with its line."""

import secrets

import pytest

from flows.models import Flow, Trigger
from tests.api.workflowdev.conftest import WD, assert_error
from tests.factories import FlowFactory, TriggerFactory

pytestmark = pytest.mark.django_db

HOOKED = """name: {name}
tasks:
  - name: hello
    type: util.log
    properties: {{message: hi}}
triggers:
  - name: hook
    type: webhook
    key: {key}
"""


def declare(api, key: str, name: str = "hooked"):
    return api.post(f"{WD}/flows", {"yamlContent": HOOKED.format(name=name, key=key)}, format="json")


def test_a_strong_chosen_key_is_kept_and_a_missing_one_generated(api):
    chosen = secrets.token_urlsafe(32)
    assert declare(api, chosen).status_code == 201
    assert Trigger.objects.get(flow__name="hooked").key == chosen
    generated = HOOKED.format(name="generated", key="x").replace("    key: x\n", "")
    assert api.post(f"{WD}/flows", {"yamlContent": generated}, format="json").status_code == 201
    assert len(Trigger.objects.get(flow__name="generated").key) >= 32


def test_weak_and_taken_keys_get_one_answer_with_the_line(api, other_namespace):
    theirs = TriggerFactory(flow=FlowFactory(namespace=other_namespace), type="webhook", key=secrets.token_urlsafe(24))
    answers = []
    for key in (theirs.key, "my-hook", "a" * 40, "0123456789abcdef" * 2):
        error = assert_error(declare(api, key), 422, "validation_error")
        answers.append(error)
    assert all(answer == answers[0] for answer in answers), answers
    assert answers[0]["details"]["errors"] == [
        {
            "path": "triggers[0].key",
            "line": 9,
            "message": "choose a key of at least 32 random characters (A-Z a-z 0-9 - _ . ~), "
            "or leave it out to get a generated one",
        }
    ]
    assert not Flow.objects.filter(name="hooked").exists()
    validated = api.post(f"{WD}/flows/validate", {"yamlContent": HOOKED.format(name="v", key="my-hook")}, format="json")
    assert validated.json()["errors"] == answers[0]["details"]["errors"]


def test_a_saved_flow_keeps_its_key_however_it_was_chosen(api, create_flow):
    flow = create_flow(HOOKED.format(name="hooked", key=secrets.token_urlsafe(24)))
    Trigger.objects.filter(flow_id=flow["id"]).update(key="legacy-key")  # chosen before the rule
    changed = HOOKED.format(name="hooked", key="legacy-key").replace("message: hi", "message: changed")
    assert api.put(f"{WD}/flows/{flow['id']}", {"yamlContent": changed}, format="json").status_code == 200
    assert Trigger.objects.get(flow_id=flow["id"]).key == "legacy-key"
    weak = changed.replace("legacy-key", "other-key")
    assert_error(api.put(f"{WD}/flows/{flow['id']}", {"yamlContent": weak}, format="json"), 422, "validation_error")
