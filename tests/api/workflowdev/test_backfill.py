"""POST /api/v1/triggers/{id}/backfill and `recoverMissedSchedules` over the API."""

import pytest

from accounts.roles import Role
from executions.models import Execution
from tests.api.workflowdev.conftest import API, assert_error
from tests.factories import FlowFactory, NamespaceFactory, TriggerFactory

DATED = """name: dated
tasks:
  - name: day
    type: util.echo
    properties: {value: "{{ trigger.date }}"}
"""
RANGE = {"start": "2026-03-01T00:00:00Z", "end": "2026-03-04T00:00:00Z"}


@pytest.fixture
def daily(api, create_flow) -> dict:
    flow = create_flow(DATED)
    body = {"flowId": flow["id"], "type": "schedule", "cron": "0 6 * * *", "inputs": {"who": "ops"}}
    response = api.post(f"{API}/triggers", body, format="json")
    assert response.status_code == 201
    return response.json()


@pytest.mark.django_db(transaction=True)
def test_a_backfill_runs_one_execution_per_tick_with_trigger_date(eager, as_role, daily):
    response = as_role(Role.EXECUTOR).post(f"{API}/triggers/{daily['id']}/backfill", RANGE, format="json")

    assert response.status_code == 201
    assert response.json() == {"executions": 3}
    runs = Execution.objects.order_by("created_at")
    assert [r.status for r in runs] == ["SUCCESS"] * 3
    assert [r.outputs["day"] for r in runs] == [f"2026-03-0{d}T06:00:00.000000Z" for d in (1, 2, 3)]


@pytest.mark.django_db
def test_backfill_inputs_are_merged_over_the_trigger_inputs(api, daily):
    api.post(f"{API}/triggers/{daily['id']}/backfill", {**RANGE, "inputs": {"extra": 1}}, format="json")

    assert {str(r.inputs) for r in Execution.objects.all()} == {str({"who": "ops", "extra": 1})}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "status", "code", "words"),
    [
        ({"start": "2026-03-04T00:00:00Z", "end": "2026-03-01T00:00:00Z"}, 400, "invalid_request", "after start"),
        ({"start": "2026-03-01T00:00:00Z", "end": "2029-03-01T00:00:00Z"}, 400, "invalid_request", "1000"),
        ({"start": "2026-03-01T00:00:00Z"}, 422, "validation_error", "end"),
        ({**RANGE, "inputs": [1]}, 422, "validation_error", "inputs"),
        ({"start": "yesterday", "end": "2026-03-04T00:00:00Z"}, 422, "validation_error", "start"),
    ],
)
def test_bad_backfills_are_refused_in_the_dialect_shape(api, daily, body, status, code, words):
    error = assert_error(api.post(f"{API}/triggers/{daily['id']}/backfill", body, format="json"), status, code)
    assert words in error["message"]
    assert not Execution.objects.exists()


@pytest.mark.django_db
def test_only_schedule_triggers_of_readable_namespaces_and_executors(api, as_role, create_flow, daily):
    webhook = api.post(f"{API}/triggers", {"flowId": create_flow()["id"], "type": "webhook"}, format="json").json()
    elsewhere = TriggerFactory(flow=FlowFactory(namespace=NamespaceFactory()), type="schedule", cron="0 6 * * *")

    not_schedule = api.post(f"{API}/triggers/{webhook['id']}/backfill", RANGE, format="json")
    hidden = api.post(f"{API}/triggers/{elsewhere.pk}/backfill", RANGE, format="json")
    viewer = as_role(Role.VIEWER).post(f"{API}/triggers/{daily['id']}/backfill", RANGE, format="json")

    assert "schedule trigger" in assert_error(not_schedule, 400, "invalid_request")["message"]
    assert_error(hidden, 404, "not_found")
    assert_error(viewer, 403, "forbidden")
    assert not Execution.objects.exists()


@pytest.mark.django_db
def test_recover_missed_schedules_is_written_and_read_on_schedule_triggers(api, create_flow, daily):
    flow = create_flow("name: other\ntasks:\n  - name: a\n    type: util.log\n    properties: {message: m}\n")
    body = {"flowId": flow["id"], "type": "schedule", "cron": "0 * * * *", "recoverMissedSchedules": "ALL"}

    created = api.post(f"{API}/triggers", body, format="json")
    changed = api.put(f"{API}/triggers/{created.json()['id']}", {"recoverMissedSchedules": "NONE"}, format="json")
    refused = api.put(f"{API}/triggers/{created.json()['id']}", {"recoverMissedSchedules": "SOME"}, format="json")

    assert daily["recoverMissedSchedules"] == "LAST"
    assert created.json()["recoverMissedSchedules"] == "ALL"
    assert changed.json()["recoverMissedSchedules"] == "NONE"
    assert assert_error(refused, 422, "validation_error")["details"]["field"] == "recoverMissedSchedules"
