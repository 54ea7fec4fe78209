"""Typed inputs at start (a 4xx naming each bad input) and SECRET inputs: sealed when stored,
a secret in templates, masked wherever the run's data is kept."""

import json

import pytest
from pytest_httpserver import HTTPServer

from core.errors import ValidationFailed
from executions.engine.inputs import inputs_unseal
from executions.models import ExecutionStatus, TaskStatus
from executions.services import execution_start
from tests.executions.engine.support import run_named
from tests.executions.engine.test_secrets_and_templates import echo_headers, everything_stored
from tests.factories import FlowFactory
from vault.crypto import generate_key
from vault.masking import MASK

pytestmark = pytest.mark.usefixtures("eager")
E, T = ExecutionStatus, TaskStatus
TOKEN = "input-s3cret-4c1d"
TYPED = """name: typed
inputs:
  - {id: env, type: SELECT, values: [dev, prod], required: true}
  - {id: regions, type: MULTISELECT, values: [eu, us]}
  - {id: at, type: DATETIME}
  - {id: day, type: DATE}
  - {id: wait, type: DURATION, defaults: PT5M}
  - {id: ids, type: ARRAY, itemType: INT}
  - {id: site, type: URI}
  - {id: mail, type: EMAIL}
tasks:
  - name: show
    type: util.echo
    properties: {value: "{{ inputs.env }} {{ inputs.regions | join(',') }} {{ inputs.ids[1] }} {{ inputs.wait }}"}
"""


@pytest.fixture(autouse=True)
def credentials_key(settings) -> None:
    settings.MILLRACE_CREDENTIALS_KEY = generate_key()
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]


def test_typed_inputs_are_converted_and_used(run_flow):
    execution = run_flow(TYPED, {"env": "prod", "regions": ["us", "eu"], "ids": ["4", 5], "day": "2026-01-31"})
    assert execution.status == E.SUCCESS, execution.error
    assert execution.inputs == {
        "env": "prod",
        "regions": ["us", "eu"],
        "ids": [4, 5],
        "day": "2026-01-31",
        "wait": "PT5M",
    }
    assert run_named(execution, "show").outputs == "prod us,eu 5 PT5M"


def test_every_bad_input_is_named_in_one_refusal(runner_account, namespace):
    flow = FlowFactory(namespace=namespace, source=TYPED)
    given = {
        "env": "staging",
        "regions": ["eu", "asia"],
        "at": "soon",
        "day": "2026-13-01",
        "wait": "5 minutes",
        "ids": [1, "two"],
        "site": "not a uri",
        "mail": "nobody",
    }
    with pytest.raises(ValidationFailed) as refused:
        execution_start(actor=runner_account, flow=flow, inputs=given)
    fields = [detail["field"] for detail in refused.value.details]
    assert fields == [f"inputs.{name}" for name in given]
    assert "'staging' is not one of dev, prod (SELECT)" in refused.value.details[0]["reason"]


def test_a_secret_input_is_sealed_masked_and_used_whole(run_flow, namespace, httpserver: HTTPServer):
    httpserver.expect_request("/echo").respond_with_handler(echo_headers)
    source = f"""name: with-secret-input
inputs:
  - {{id: token, type: SECRET, required: true}}
  - {{id: who, type: STRING}}
tasks:
  - name: call
    type: http.request
    properties:
      url: "{httpserver.url_for("/echo")}"
      headers:
        X-Token: "{{{{ inputs.token }}}}"
        Authorization: "Bearer {{{{ inputs['token'] | b64encode }}}}"
  - name: log
    type: util.log
    properties: {{message: "all inputs: {{{{ inputs }}}} for {{{{ inputs.who }}}}"}}
"""
    execution = run_flow(source, {"token": TOKEN, "who": "ada"})
    assert execution.status == E.SUCCESS, execution.error
    [(request, _)] = httpserver.log
    assert request.headers["X-Token"] == TOKEN
    assert execution.inputs == {"token": MASK, "who": "ada"}
    assert TOKEN not in json.dumps(execution.sealed_inputs)
    assert inputs_unseal(execution.pk, execution.sealed_inputs) == {"token": TOKEN}
    call = run_named(execution, "call")
    assert call.inputs["headers"] == {"X-Token": MASK, "Authorization": MASK}
    assert call.outputs["body"]["token"] == MASK
    assert TOKEN not in everything_stored(execution)


def test_a_secret_input_cannot_choose_a_branch_nor_reach_a_plugin_that_keeps_it(run_flow):
    branch = run_flow(
        "name: branch\ninputs:\n  - {id: token, type: SECRET}\ntasks:\n  - name: pick\n    type: flow.if\n"
        '    properties: {condition: "{{ inputs.token }}"}\n'
        "    then:\n      - {name: a, type: util.log, properties: {message: x}}\n",
        {"token": TOKEN},
    )
    assert branch.status == E.FAILED and "secret cannot be used here" in branch.error
    kept = run_flow(
        "name: kept\ninputs:\n  - {id: token, type: SECRET}\ntasks:\n"
        '  - {name: parse, type: data.json.parse, properties: {text: "{{ inputs.token }}"}}\n',
        {"token": TOKEN},
    )
    assert kept.status == E.FAILED and "cannot take a secret" in kept.error
    for execution in (branch, kept):
        assert TOKEN not in everything_stored(execution)


def test_a_flow_without_secret_inputs_seals_nothing(run_flow):
    execution = run_flow("name: plain\ntasks:\n  - {name: a, type: util.log, properties: {message: hi}}\n", {"x": 1})
    assert (execution.inputs, execution.sealed_inputs) == ({"x": 1}, {})
