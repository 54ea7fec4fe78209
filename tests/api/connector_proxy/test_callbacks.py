"""`PUT /v1/callbacks/{token}`: open, single use, refusals in the envelope."""

import pytest
from rest_framework.test import APIClient

from executions.models import TaskStatus
from tests.factories import FlowFactory, TaskRunFactory

CALLBACK = {
    "command_response": {
        "body": {"order_id": "12345", "status": "complete", "details": "Processing finished successfully"},
        "mimetype": "application/json",
        "http_status": 200,
    },
    "command_response_version": 2,
    "error": None,
    "spiff__logs": [],
}


def put(token: str, body=None, **kwargs):
    return APIClient().put(f"/v1/callbacks/{token}", body, format="json", **kwargs)


def test_unknown_token_is_404(db) -> None:
    response = put("no-such-token", CALLBACK)
    assert response.status_code == 404
    assert response.json()["command_response"]["http_status"] == 404
    assert response.json()["error"]["error_code"] == "not_found"


@pytest.mark.parametrize("body", [None, {}, {"command_response": {"http_status": 200}}, {"command_response": "x"}, [1]])
def test_a_callback_without_command_response_body_is_invalid(db, body) -> None:
    response = put("whatever", body)
    assert response.status_code == 400
    assert response.json()["error"]["error_code"] == "invalid_callback_body"


def test_malformed_json_is_invalid_callback_body(db) -> None:
    response = APIClient().put("/v1/callbacks/t", "{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["error_code"] == "invalid_callback_body"


def test_a_task_that_is_not_waiting_is_refused(db, namespace) -> None:
    from executions.engine.context import callback_digest
    from executions.services import execution_create

    flow = FlowFactory(namespace=namespace)
    execution = execution_create(flow=flow)
    TaskRunFactory(
        execution=execution,
        step_id="hello",
        name="hello",
        plugin_type="connector.call",
        sequence=1,
        status=TaskStatus.SUCCESS,
        callback_digest=callback_digest("tok-1"),
    )
    response = put("tok-1", CALLBACK)
    assert response.status_code == 400
    assert response.json()["error"]["error_code"] == "not_waiting_for_callback"
