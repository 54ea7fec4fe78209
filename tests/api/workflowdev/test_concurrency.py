"""Concurrency limits through workflowdev: a start beyond the limit answers QUEUED and stays so
until a slot frees; bad limits are 422 (and listed by validate) with their line."""

from executions.models import Approval, Execution
from tests.api.workflowdev.conftest import API, WD, assert_error

LIMITED = """name: limited
concurrency:
  limit: 1
  behavior: QUEUE
tasks:
  - name: ask
    type: flow.pause
"""


def test_a_start_beyond_the_limit_is_queued_until_the_slot_frees(eager, api, create_flow):
    flow = create_flow(LIMITED)
    first = api.post(f"{WD}/flows/{flow['id']}/execute").json()["executionId"]
    started = api.post(f"{WD}/flows/{flow['id']}/execute")

    assert started.status_code == 201 and started.json()["status"] == "QUEUED"
    second = started.json()["executionId"]
    assert api.get(f"{WD}/executions/{first}").json()["execution"]["status"] == "WAITING"
    assert api.get(f"{WD}/executions/{second}").json()["execution"]["status"] == "QUEUED"
    queued = api.get(f"{WD}/executions?status=QUEUED&flowId={flow['id']}").json()
    assert [execution["id"] for execution in queued] == [second]

    approval = Approval.objects.get(execution_id=first)
    assert api.post(f"{API}/approvals/{approval.pk}/approve", {}, format="json").status_code == 200
    assert api.get(f"{WD}/executions/{first}").json()["execution"]["status"] == "SUCCESS"
    assert api.get(f"{WD}/executions/{second}").json()["execution"]["status"] == "WAITING"


def test_cancel_and_fail_behaviors_end_the_start_at_once(eager, api, create_flow):
    for behavior, status in (("CANCEL", "CANCELLED"), ("FAIL", "FAILED")):
        flow = create_flow(LIMITED.replace("limited", f"limited-{behavior}").replace("QUEUE", behavior))
        api.post(f"{WD}/flows/{flow['id']}/execute")
        refused = api.post(f"{WD}/flows/{flow['id']}/execute").json()["executionId"]
        execution = api.get(f"{WD}/executions/{refused}").json()["execution"]
        assert execution["status"] == status
        assert "concurrency limit of 1 is reached" in execution["error"]


BAD = """name: bad
concurrency:
  limit: 0
  behavior: SOMETIMES
tasks:
  - name: a
    type: util.log
    properties: {message: hi}
"""


def test_a_bad_limit_or_behavior_is_422_with_lines_and_validate_lists_them(api):
    error = assert_error(api.post(f"{WD}/flows", {"yamlContent": BAD}, format="json"), 422, "validation_error")
    problems = [(p["path"], p["line"]) for p in error["details"]["errors"]]
    assert problems == [("concurrency.limit", 3), ("concurrency.behavior", 4)]
    checked = api.post(f"{WD}/flows/validate", {"yamlContent": BAD}, format="json").json()
    assert checked["valid"] is False
    assert [p["message"] for p in checked["errors"]] == [
        "concurrency limit must be a whole number of at least 1, not 0",
        "unknown concurrency behavior 'SOMETIMES'; use one of QUEUE, CANCEL, FAIL",
    ]
    assert not Execution.objects.exists()
