"""allowFailure (WARNING), declared outputs (the webhook's `?wait=true` answer) and `finally`
through workflowdev."""

import secrets

import pytest
from rest_framework.test import APIClient

from tests.api.workflowdev.conftest import API, WD, assert_error

DECLARED = """name: declared
tasks:
  - name: reply
    type: util.echo
    properties:
      value: {customer: "{{ trigger.body.customerId }}", internal: kept-inside}
outputs:
  - {id: customer, type: INT, value: "{{ outputs.reply.customer }}"}
"""

WARNED = """name: warned
tasks:
  - name: shaky
    type: util.echo
    allowFailure: true
    properties: {value: "{{ outputs.nothing }}"}
  - name: after
    type: util.echo
    properties: {value: on}
finally:
  - name: cleanup
    type: util.echo
    properties: {value: done}
"""


def test_webhook_wait_answers_only_the_declared_outputs(eager, api, create_flow, settings):
    settings.MILLRACE_WEBHOOK_WAIT_SECONDS = 2
    flow = create_flow(DECLARED)
    key = secrets.token_urlsafe(32)
    created = api.post(f"{API}/triggers", {"flowId": flow["id"], "type": "webhook", "key": key}, format="json")
    assert created.status_code == 201, created.content
    body = APIClient().post(f"{API}/webhook/{key}?wait=true", {"customerId": "7"}, format="json").json()
    assert body["status"] == "SUCCESS" and body["outputs"] == {"customer": 7}
    execution = api.get(f"{WD}/executions/{body['executionId']}").json()["execution"]
    assert execution["outputs"] == {"customer": 7}


def test_an_allowed_failure_ends_warning_and_the_filter_finds_it(eager, api, create_flow):
    flow = create_flow(WARNED)
    started = api.post(f"{WD}/flows/{flow['id']}/execute", format="json").json()
    got = api.get(f"{WD}/executions/{started['executionId']}").json()
    assert got["execution"]["status"] == "WARNING"
    assert [(task["taskName"], task["status"]) for task in got["tasks"]] == [
        ("shaky", "FAILED"),
        ("after", "SUCCESS"),
        ("cleanup", "SUCCESS"),
    ]
    assert [item["id"] for item in api.get(f"{WD}/executions?status=WARNING").json()] == [started["executionId"]]
    assert api.get(f"{WD}/executions?status=SUCCESS").json() == []


@pytest.mark.django_db
def test_definition_problems_of_the_new_keys_have_their_lines(api):
    source = DECLARED + '  - {id: customer, value: "again"}\n' + "finally: nope\n"
    source = source.replace("type: util.echo", "type: util.echo\n    allowFailure: sometimes")
    error = assert_error(api.post(f"{WD}/flows", {"yamlContent": source}, format="json"), 422, "validation_error")
    found = {(problem["path"], problem["line"]) for problem in error["details"]["errors"]}
    assert found == {("tasks[0].allowFailure", 5), ("outputs[1].id", 10), ("finally", 11)}
