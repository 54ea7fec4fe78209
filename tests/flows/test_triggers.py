"""Trigger services: roles, audit, per-type fields, rescheduling, and firing webhooks."""

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditEntry
from accounts.roles import Role
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from executions.models import Execution
from executions.triggers import webhook_fire
from flows.models import Trigger
from flows.triggers import trigger_create, trigger_delete, trigger_update
from tests.factories import AccountFactory, FlowFactory, TriggerFactory

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 25, 9, 0, 30, tzinfo=UTC)
FIXED_KEY = "a-fixed-key-" + secrets.token_urlsafe(24)
FIRE_KEY = "fire-key-" + secrets.token_urlsafe(24)


@pytest.fixture
def editor(namespace):
    return AccountFactory(role=Role.EDITOR, default_namespace=namespace)


@pytest.fixture
def flow(namespace):
    return FlowFactory(namespace=namespace)


def test_create_checks_roles_and_audits(editor, flow, namespace, other_namespace):
    with pytest.raises(Forbidden):
        trigger_create(actor=AccountFactory(role=Role.EXECUTOR, default_namespace=namespace), flow=flow, type="webhook")
    with pytest.raises(NotFound):
        trigger_create(
            actor=AccountFactory(role=Role.EDITOR, default_namespace=other_namespace), flow=flow, type="webhook"
        )
    trigger = trigger_create(actor=editor, flow=flow, type="webhook", inputs={"x": 1})
    assert trigger.key and len(trigger.key) >= 24 and trigger.next_fire_at is None
    entry = AuditEntry.objects.get(action="trigger.create")
    assert entry.resource_id == str(trigger.pk) and entry.namespace == namespace.name and entry.actor == editor


def test_update_changes_type_and_reschedules(editor, flow, monkeypatch):
    monkeypatch.setattr("flows.triggers.timezone.now", lambda: T0)
    trigger = trigger_create(actor=editor, flow=flow, type="webhook", key=FIXED_KEY)
    scheduled = trigger_update(actor=editor, trigger=trigger, type="schedule", cron="30 9 * * *")
    assert scheduled.key is None and scheduled.cron == "30 9 * * *" and scheduled.timezone == "UTC"
    assert scheduled.next_fire_at == datetime(2026, 3, 25, 9, 30, tzinfo=UTC)
    paused = trigger_update(actor=editor, trigger=scheduled, enabled=False)
    assert paused.next_fire_at is None
    monkeypatch.setattr("flows.triggers.timezone.now", lambda: datetime(2026, 3, 27, 12, 0, tzinfo=UTC))
    resumed = trigger_update(actor=editor, trigger=paused, enabled=True)
    assert resumed.next_fire_at == datetime(2026, 3, 28, 9, 30, tzinfo=UTC)  # no catch-up for the days it was off
    webhook = trigger_update(actor=editor, trigger=resumed, type="webhook")
    assert webhook.key and webhook.key != FIXED_KEY and webhook.cron == "" and webhook.next_fire_at is None


def test_flow_triggers_watch_their_own_namespace(editor, flow, namespace, other_namespace):
    source = FlowFactory(namespace=namespace)
    trigger = trigger_create(actor=editor, flow=flow, type="flow", source_flow_id=source.pk, statuses=["FAILED"])
    assert trigger.source_flow_id == source.pk and trigger.statuses == ["FAILED"]
    with pytest.raises(ValidationFailed):
        trigger_create(actor=editor, flow=flow, type="flow", source_flow_id=source.pk, statuses=["DONE"])
    root = AccountFactory(role=Role.ADMIN, default_namespace=namespace)
    with pytest.raises(ValidationFailed):
        trigger_create(actor=root, flow=flow, type="flow", source_flow_id=FlowFactory(namespace=other_namespace).pk)
    with pytest.raises(NotFound):
        trigger_create(actor=editor, flow=flow, type="flow", source_flow_id=FlowFactory(namespace=other_namespace).pk)


def refusal(**fields) -> tuple[str, list]:
    with pytest.raises(ValidationFailed) as refused:
        trigger_create(**fields)
    return refused.value.message, refused.value.details


def test_keys_are_unique_and_every_refused_key_gets_the_same_answer(editor, flow, other_namespace):
    taken = trigger_create(actor=editor, flow=flow, type="webhook", key=FIXED_KEY).key
    theirs = trigger_create(
        actor=AccountFactory(role=Role.EDITOR, default_namespace=other_namespace),
        flow=FlowFactory(namespace=other_namespace),
        type="webhook",
    ).key
    answers = {
        str(refusal(actor=editor, flow=flow, type="webhook", key=key))
        for key in (taken, theirs, "short", "a" * 40, "0123456789abcdef" * 2, "has space" * 5)
    }
    assert len(answers) == 1 and "at least 32 random characters" in answers.pop()
    assert Trigger.objects.count() == 2


def test_a_trigger_keeps_its_key_and_yaml_triggers_are_refused(editor, flow):
    legacy = TriggerFactory(flow=flow, type="webhook", key="legacy-1")  # chosen before the rule
    assert trigger_update(actor=editor, trigger=legacy, enabled=False, key="legacy-1").key == "legacy-1"
    with pytest.raises(ValidationFailed):
        trigger_update(actor=editor, trigger=legacy, key="legacy-2")
    declared = TriggerFactory(flow=flow, type="webhook", key="declared-1", from_definition=True)
    with pytest.raises(Conflict):
        trigger_update(actor=editor, trigger=declared, enabled=False)
    with pytest.raises(Conflict):
        trigger_delete(actor=editor, trigger=declared)


def test_delete_audits(editor, flow):
    trigger = trigger_create(actor=editor, flow=flow, type="webhook")
    trigger_id = trigger.pk
    trigger_delete(actor=editor, trigger=trigger)
    assert not Trigger.objects.filter(pk=trigger_id).exists()
    assert AuditEntry.objects.filter(action="trigger.delete", resource_id=str(trigger_id)).exists()


def test_webhook_fire_passes_body_and_safe_headers(editor, flow):
    trigger = trigger_create(actor=editor, flow=flow, type="webhook", key=FIRE_KEY, inputs={"x": 1})
    headers = {"X-Agent": "a", "Authorization": "Bearer t", "Cookie": "c"}
    execution = webhook_fire(key=FIRE_KEY, body={"b": 2}, headers=headers)
    assert execution.status == "QUEUED" and execution.inputs == {"x": 1} and execution.trigger_id == trigger.pk
    assert execution.trigger_data["body"] == {"b": 2} and execution.trigger_data["headers"] == {"X-Agent": "a"}
    trigger_update(actor=editor, trigger=trigger, enabled=False)
    with pytest.raises(NotFound):
        webhook_fire(key=FIRE_KEY, body={}, headers={})
    with pytest.raises(NotFound):
        webhook_fire(key="", body={}, headers={})
    assert Execution.objects.count() == 1


def test_a_flow_trigger_cannot_watch_its_own_flow(editor, flow):
    with pytest.raises(ValidationFailed) as refused:
        trigger_create(actor=editor, flow=flow, type="flow", source_flow_id=flow.pk)
    assert refused.value.details[0]["field"] == "sourceFlowId"
    other = FlowFactory(namespace=flow.namespace)
    trigger = trigger_create(actor=editor, flow=flow, type="flow", source_flow_id=other.pk)
    with pytest.raises(ValidationFailed):
        trigger_update(actor=editor, trigger=trigger, source_flow_id=flow.pk)
    assert Trigger.objects.get(pk=trigger.pk).source_flow_id == other.pk


def test_a_yaml_flow_trigger_cannot_watch_its_own_flow(editor, namespace):
    from flows.services import flow_create, flow_update

    body = "tasks:\n  - name: hello\n    type: util.echo\n    properties: {value: 1}\n"
    selfish = "name: selfish\n" + body + "triggers:\n  - name: again\n    type: flow\n    flow: selfish\n"
    with pytest.raises(ValidationFailed) as refused:
        flow_create(actor=editor, namespace=namespace, source=selfish)
    assert refused.value.details[0]["path"] == "triggers[0]"
    flow = flow_create(actor=editor, namespace=namespace, source="name: selfish\n" + body)
    with pytest.raises(ValidationFailed) as by_id:
        flow_update(actor=editor, flow=flow, source=selfish.replace("flow: selfish", f"sourceFlowId: '{flow.pk}'"))
    assert "own flow" in by_id.value.message
    assert not Trigger.objects.filter(flow=flow).exists()


def test_a_webhook_s_last_fired_at_moves_at_most_once_a_second(editor, flow, monkeypatch):
    trigger = trigger_create(actor=editor, flow=flow, type="webhook", key=FIRE_KEY)
    for now in (T0, T0 + timedelta(milliseconds=400), T0 + timedelta(milliseconds=900)):
        monkeypatch.setattr("django.utils.timezone.now", lambda now=now: now)
        with CaptureQueriesContext(connection) as queries:
            webhook_fire(key=FIRE_KEY, body={}, headers={})
        trigger.refresh_from_db()
        assert trigger.last_fired_at == T0  # a row this fresh is left alone (and not locked)
        touched = [q["sql"] for q in queries if q["sql"].startswith("UPDATE") and Trigger._meta.db_table in q["sql"]]
        assert len(touched) == (now == T0)  # not even asked to change nothing: no writer lock taken
    monkeypatch.setattr("django.utils.timezone.now", lambda: T0 + timedelta(seconds=2))
    webhook_fire(key=FIRE_KEY, body={}, headers={})
    trigger.refresh_from_db()
    assert trigger.last_fired_at == T0 + timedelta(seconds=2)
    assert Execution.objects.filter(trigger=trigger).count() == 4


def test_a_webhook_whose_start_is_refused_has_not_fired(editor, namespace):
    source = (
        "name: needy\ninputs:\n  - id: n\n    type: INT\n    required: true\n"
        "tasks:\n  - name: t\n    type: util.echo\n    properties: {value: 1}\n"
    )
    flow = FlowFactory(namespace=namespace, name="needy", source=source)
    trigger = trigger_create(actor=editor, flow=flow, type="webhook", key=FIRE_KEY)
    with pytest.raises(ValidationFailed):
        webhook_fire(key=FIRE_KEY, body={}, headers={})  # the required input `n` is missing
    trigger.refresh_from_db()
    assert trigger.last_fired_at is None
    assert not Execution.objects.filter(trigger=trigger).exists()
